// Argument reader for the q8 tool's model commands.
#include "args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace q8cli {

Args::Args(const char *command, int argc, char **argv, std::set<std::string> with_value,
           std::set<std::string> flags)
    : command_(command) {
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    if (arg == "-o") arg = "--output";
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      pos_.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool inline_value = false;
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    if (flags.count(name)) {
      if (inline_value) usage_error(command_ + ": " + name + " takes no value");
      set_flags_.insert(name);
    } else if (with_value.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) usage_error(command_ + ": " + name + " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      usage_error(command_ + ": unknown option '" + name + "'");
    }
  }
}

std::string Args::get(const std::string &name, const std::string &def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

long long Args::get_int(const std::string &name, long long def, long long lo, long long hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  char *end = nullptr;
  errno = 0;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (errno || end == it->second.c_str() || *end || v < lo || v > hi)
    usage_error(command_ + ": " + name + " must be an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "], not '" + it->second + "'");
  return v;
}

double Args::get_double(const std::string &name, double def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  char *end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end || !std::isfinite(v))
    usage_error(command_ + ": " + name + " must be a number, not '" + it->second + "'");
  return v;
}

}  // namespace q8cli
