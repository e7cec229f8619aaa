#include "core/error.hpp"

#include <cstdio>

namespace q8 {
namespace {
// A fixed buffer: setting the message can never throw or allocate.
thread_local char g_message[512] = "";
}  // namespace

void set_last_error(const char *function, const char *message) noexcept {
  std::snprintf(g_message, sizeof g_message, "%s: %s", function, message);
}

const char *last_error() noexcept { return g_message; }

}  // namespace q8
