// A small argument reader for the model commands: positionals, flags, and options written as
// "--name VALUE" or "--name=VALUE". Unknown options are usage errors that name the command.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common.hpp"

namespace q8cli {

class Args {
 public:
  // `with_value`: options that take a value; `flags`: options that don't. -o is an alias of --output.
  Args(const char *command, int argc, char **argv, std::set<std::string> with_value,
       std::set<std::string> flags);
  bool help() const { return help_; }
  const std::vector<std::string> &positional() const { return pos_; }
  bool has(const std::string &name) const { return values_.count(name) || set_flags_.count(name); }
  std::string get(const std::string &name, const std::string &def = "") const;
  long long get_int(const std::string &name, long long def, long long lo, long long hi) const;
  double get_double(const std::string &name, double def) const;

 private:
  std::string command_;
  bool help_ = false;
  std::vector<std::string> pos_;
  std::map<std::string, std::string> values_;
  std::set<std::string> set_flags_;
};

}  // namespace q8cli
