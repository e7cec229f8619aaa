#include "csv.hpp"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

namespace q8cli {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// A field quoted back in a message: printable ASCII only, and short.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > 40) out += "...";
  return out + "'";
}

}  // namespace

bool CsvParser::fail(std::string message) {
  error_line_ = line_no_;
  error_ = std::move(message);
  return false;
}

bool CsvParser::add_line(std::string_view line) {
  if (!error_.empty()) return false;
  ++line_no_;
  if (line.size() > kMaxLineBytes)
    return fail("longer than " + std::to_string(kMaxLineBytes) + " bytes");
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (trim(line).empty()) return true;

  row_.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::string_view raw = line.substr(start, comma == std::string_view::npos ? line.npos : comma - start);
    const std::size_t col = row_.size() + 1;
    if (col > kMaxCols) return fail("more than " + std::to_string(kMaxCols) + " columns");
    std::string_view field = trim(raw);
    if (field.empty()) return fail("column " + std::to_string(col) + " is empty");
    // from_chars takes no leading '+'; a sign after it ("+-1") stays an error.
    std::string_view digits = field;
    if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-' && digits[1] != '+')
      digits.remove_prefix(1);
    float v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range)
      return fail("column " + std::to_string(col) + ": " + quote(field) + " is outside the f32 range");
    if (ec != std::errc() || end != digits.data() + digits.size())
      return fail("column " + std::to_string(col) + ": " + quote(field) + " is not a number");
    if (!std::isfinite(v))
      return fail("column " + std::to_string(col) + ": " + quote(field) + " is not a finite number");
    row_.push_back(v);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (cols_ == 0) cols_ = row_.size();
  if (row_.size() != cols_)
    return fail(std::to_string(row_.size()) + " column" + (row_.size() == 1 ? "" : "s") +
                ", expected " + std::to_string(cols_));
  table_.cols = cols_;
  table_.values.insert(table_.values.end(), row_.begin(), row_.end());
  ++table_.rows;
  return true;
}

bool parse_csv(std::string_view text, std::size_t expected_cols, Table &out, std::string &error) {
  CsvParser parser(expected_cols);
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    if (!parser.add_line(text.substr(0, nl))) {
      error = parser.error();
      return false;
    }
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  out = parser.take();
  return true;
}

bool read_csv_file(const std::string &path, std::size_t expected_cols, Table &out, std::string &error) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    error = path + ": cannot open (" + (errno ? std::strerror(errno) : "out of memory") + ")";
    return false;
  }
  // gzread rather than gzgets: it reports how many bytes came, so a NUL byte inside a line is
  // seen (and rejected as a bad field) instead of silently ending the line.
  CsvParser parser(expected_cols);
  std::string pending;
  std::vector<char> buf(1 << 16);
  bool ok = true;
  for (;;) {
    const int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (got < 0) {
      int code = 0;
      const char *msg = gzerror(f, &code);
      error = path + ": cannot read (" + (code == Z_ERRNO ? std::strerror(errno) : msg) + ")";
      ok = false;
      break;
    }
    if (got == 0) {
      // A gzip stream cut short ends like a plain file; zlib tells the two apart.
      int code = 0;
      gzerror(f, &code);
      if (code == Z_BUF_ERROR) {
        error = path + ": truncated gzip data (after " + std::to_string(parser.lines()) + " complete lines)";
        ok = false;
      }
      break;
    }
    std::string_view chunk(buf.data(), static_cast<std::size_t>(got));
    for (std::size_t nl; ok && (nl = chunk.find('\n')) != std::string_view::npos;) {
      pending.append(chunk.substr(0, nl));
      ok = parser.add_line(pending);
      pending.clear();
      chunk.remove_prefix(nl + 1);
    }
    if (!ok) break;
    pending.append(chunk);
    if (pending.size() > CsvParser::kMaxLineBytes) {
      ok = parser.add_line(pending);  // reports the over-long line with its number
      break;
    }
  }
  if (ok && !pending.empty()) ok = parser.add_line(pending);
  if (!ok && error.empty())
    error = path + ":" + std::to_string(parser.error_line()) + ": " + parser.error_message();
  if (gzclose(f) != Z_OK && ok) {
    error = path + ": cannot read (gzclose failed)";
    ok = false;
  }
  if (ok) out = parser.take();
  return ok;
}

}  // namespace q8cli
