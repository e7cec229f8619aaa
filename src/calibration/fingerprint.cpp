#include "calibration/fingerprint.hpp"

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace q8::calibration {

namespace {

class Fnv {
 public:
  void bytes(const void *p, std::size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ b[i]) * 0x100000001b3ull;
  }
  template <class T>
  void num(T v) {
    static_assert(std::is_arithmetic<T>::value, "numbers only");
    bytes(&v, sizeof v);
  }
  // Length first, so that ("ab", "c") and ("a", "bc") differ.
  void str(const std::string &s) {
    num(uint64_t(s.size()));
    bytes(s.data(), s.size());
  }
  template <class T>
  void list(const std::vector<T> &v) {
    num(uint64_t(v.size()));
    for (const T &x : v) num(x);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

}  // namespace

uint64_t fingerprint(const model::Graph &g) {
  Fnv f;
  f.num(uint64_t(g.values.size()));
  for (const model::Value &v : g.values) {
    f.str(v.name);
    f.num(int(v.dtype));
    f.num(v.has_shape);
    f.list(v.shape);
    f.num(v.is_const);
    if (v.is_const) {
      f.num(uint64_t(v.data.size));
      f.bytes(v.data.data, v.data.size);
    }
  }
  f.num(uint64_t(g.nodes.size()));
  for (const model::Node &n : g.nodes) {
    f.str(n.name);
    f.str(n.domain);
    f.str(n.op);
    f.list(n.inputs);
    f.list(n.outputs);
    f.num(uint64_t(n.attrs.size()));
    for (const auto &kv : n.attrs) {  // std::map: a fixed order
      f.str(kv.first);
      f.num(int(kv.second.kind));
      f.num(kv.second.i);
      f.num(kv.second.f);
      f.list(kv.second.ints);
      f.list(kv.second.floats);
      f.str(kv.second.s);
    }
  }
  f.list(g.inputs);
  f.list(g.outputs);
  return f.value();
}

}  // namespace q8::calibration
