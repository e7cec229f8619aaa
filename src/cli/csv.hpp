// CSV of numbers for the q8 tool: plain or gzip-compressed files, parsed as untrusted input.
// Kept apart from main.cpp so that a libFuzzer target can call parse_csv() on raw bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace q8cli {

// rows x cols finite f32 values, row-major.
struct Table {
  std::size_t rows = 0, cols = 0;
  std::vector<float> values;
};

// Feeds lines one at a time (without their '\n'). Fields are separated by ',', may carry spaces or
// tabs around them, and must be finite numbers in f32 range; a trailing '\r' is dropped, and blank
// lines are skipped (they still count for line numbers). Every error names its line.
class CsvParser {
 public:
  // Every line must have expected_cols fields; 0 lets the first data line decide.
  explicit CsvParser(std::size_t expected_cols = 0) : cols_(expected_cols) {}

  // False on a bad line: error() says why ("line N: ..."); the parser then rejects any further line.
  bool add_line(std::string_view line);
  std::string error() const { return "line " + std::to_string(error_line_) + ": " + error_; }
  std::size_t error_line() const { return error_line_; }
  const std::string &error_message() const { return error_; }
  Table take() { return std::move(table_); }
  std::size_t lines() const { return line_no_; }  // lines seen so far

  static constexpr std::size_t kMaxCols = 1u << 16;
  static constexpr std::size_t kMaxLineBytes = 1u << 20;

 private:
  bool fail(std::string message);

  std::size_t cols_;
  std::size_t line_no_ = 0;
  std::size_t error_line_ = 0;
  std::string error_;
  Table table_;
  std::vector<float> row_;
};

// Parses a whole buffer (bytes as read from a file, NULs included). On failure returns false and
// sets `error` to "line N: ..."; `out` is then unspecified.
bool parse_csv(std::string_view text, std::size_t expected_cols, Table &out, std::string &error);

// Reads `path`, gzip-compressed or not (zlib passes plain files through). Errors name the path,
// and the line for parse errors ("PATH:N: ...").
bool read_csv_file(const std::string &path, std::size_t expected_cols, Table &out, std::string &error);

}  // namespace q8cli
