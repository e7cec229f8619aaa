#include "calibration/serialize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "core/error.hpp"

namespace q8::calibration {

namespace {

constexpr char kMagic[8] = {'Q', '8', 'C', 'A', 'L', 'I', 'B', '\0'};
constexpr uint32_t kVersion = 1;
constexpr std::size_t kMaxName = 1u << 16;

class Writer {
 public:
  void bytes(const void *p, std::size_t n) {
    const auto *b = static_cast<const uint8_t *>(p);
    out_.insert(out_.end(), b, b + n);
  }
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(uint8_t(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(uint8_t(v >> (8 * i)));
  }
  void varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) out_.push_back(uint8_t(v | 0x80));
    out_.push_back(uint8_t(v));
  }
  void f32(float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u32(u);
  }
  void f64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    u64(u);
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  Reader(const uint8_t *p, std::size_t n) : p_(p), n_(n) {}
  std::size_t left() const { return n_ - at_; }
  const uint8_t *take(std::size_t n, const std::string &what) {
    if (n > left())
      fail(Q8_ERR_FORMAT, "calibration bytes end inside " + what + " (offset " + std::to_string(at_) + ", " +
                              std::to_string(n) + " bytes needed, " + std::to_string(left()) + " left)");
    const uint8_t *q = p_ + at_;
    at_ += n;
    return q;
  }
  uint8_t u8(const std::string &what) { return *take(1, what); }
  uint32_t u32(const std::string &what) {
    const uint8_t *q = take(4, what);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(q[i]) << (8 * i);
    return v;
  }
  uint64_t u64(const std::string &what) {
    const uint8_t *q = take(8, what);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(q[i]) << (8 * i);
    return v;
  }
  uint64_t varint(const std::string &what) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      const uint8_t b = u8(what);
      v |= uint64_t(b & 0x7f) << (7 * i);
      if (!(b & 0x80)) return v;
    }
    fail(Q8_ERR_FORMAT, "calibration bytes: " + what + " hold a number longer than 8 bytes");
  }
  float f32(const std::string &what) {
    const uint32_t u = u32(what);
    float v;
    std::memcpy(&v, &u, 4);
    return v;
  }
  double f64(const std::string &what) {
    const uint64_t u = u64(what);
    double v;
    std::memcpy(&v, &u, 8);
    return v;
  }

 private:
  const uint8_t *p_;
  std::size_t n_, at_ = 0;
};

[[noreturn]] void bad(const std::string &message) { fail(Q8_ERR_FORMAT, "calibration bytes: " + message); }

}  // namespace

std::vector<uint8_t> save(const Statistics &s) {
  Writer w;
  w.bytes(kMagic, sizeof kMagic);
  w.u32(kVersion);
  w.u32(uint32_t(s.settings.kind));
  w.u32(uint32_t(s.settings.scheme));
  w.f64(s.settings.percentile);
  w.u32(s.settings.bins);
  w.f32(s.settings.averaging);
  w.u64(s.fingerprint);
  w.u32(uint32_t(s.names.size()));
  std::vector<double> slots(s.slots());
  for (std::size_t i = 0; i < s.names.size(); ++i) {
    const TensorStats &t = s.tensors[i];
    w.u32(uint32_t(s.names[i].size()));
    w.bytes(s.names[i].data(), s.names[i].size());
    w.u8(t.seen() ? 1 : 0);
    w.f32(t.seen() ? t.min() : 0.0f);
    w.f32(t.seen() ? t.max() : 0.0f);
    if (!s.settings.histogram()) continue;
    t.histogram().get_slots(slots.data());
    std::size_t first = 0, end = slots.size();
    while (first < end && slots[first] == 0) ++first;
    while (end > first && slots[end - 1] == 0) --end;
    w.u32(uint32_t(first));
    w.u32(uint32_t(end - first));
    for (std::size_t b = first; b < end; ++b) w.varint(uint64_t(slots[b]));
  }
  return w.take();
}

Statistics load(const uint8_t *data, std::size_t size) {
  if (!data && size) bad("data is NULL");
  Reader r(data, size);
  if (std::memcmp(r.take(sizeof kMagic, "the magic"), kMagic, sizeof kMagic) != 0)
    bad("not a q8 calibration (the magic \"Q8CALIB\" is missing)");
  const uint32_t version = r.u32("the version");
  if (version != kVersion)
    bad("version " + std::to_string(version) + " is not supported (this library reads " + std::to_string(kVersion) + ")");
  Statistics s;
  const uint32_t kind = r.u32("the observer kind"), scheme = r.u32("the scheme");
  if (kind > Q8_OBSERVER_MSE) bad("observer kind " + std::to_string(kind) + " is not a q8_observer_kind");
  if (scheme > Q8_SCHEME_ASYMMETRIC_S8) bad("scheme " + std::to_string(scheme) + " is not a q8_scheme");
  s.settings.kind = q8_observer_kind(kind);
  s.settings.scheme = q8_scheme(scheme);
  s.settings.percentile = r.f64("the percentile");
  if (!(s.settings.percentile > 50.0 && s.settings.percentile <= 100.0)) bad("percentile is not in (50, 100]");
  s.settings.bins = r.u32("the bin count");
  if (s.settings.bins < 128 || s.settings.bins > 65536)
    bad("bins = " + std::to_string(s.settings.bins) + " is not in [128, 65536]");
  s.settings.averaging = r.f32("the averaging constant");
  if (!(s.settings.averaging > 0.0f && s.settings.averaging <= 1.0f)) bad("the averaging constant is not in (0, 1]");
  s.fingerprint = r.u64("the model fingerprint");
  const uint32_t count = r.u32("the activation count");
  // Each activation takes at least 13 bytes (empty name) plus 8 for a histogram's window.
  const std::size_t least = 13 + (s.settings.histogram() ? 8 : 0);
  if (count > r.left() / least)
    bad(std::to_string(count) + " activations cannot fit in the " + std::to_string(r.left()) + " bytes left");
  const std::size_t slots = s.slots();
  std::vector<double> counts(slots);
  std::set<std::string> seen_names;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string at = "activation " + std::to_string(i);
    const uint32_t len = r.u32(at + "'s name length");
    if (len == 0 || len > kMaxName) bad(at + ": name length " + std::to_string(len) + " is not in [1, 65536]");
    const uint8_t *name = r.take(len, at + "'s name");
    std::string n(reinterpret_cast<const char *>(name), len);
    if (n.find('\0') != std::string::npos) bad(at + ": the name holds a NUL byte");
    if (!seen_names.insert(n).second) bad(at + ": the name '" + n + "' appears twice");
    const std::string who = at + " ('" + n + "')";
    const uint8_t seen = r.u8(who + "'s seen flag");
    const float mn = r.f32(who + "'s min"), mx = r.f32(who + "'s max");
    if (seen > 1) bad(who + ": the seen flag is " + std::to_string(seen) + ", not 0 or 1");
    if (!std::isfinite(mn) || !std::isfinite(mx)) bad(who + ": min or max is not finite");
    if (!seen && (mn != 0.0f || mx != 0.0f)) bad(who + ": has seen nothing but has a range");
    // A moving average of batch minima and maxima may cross by rounding; the others never do.
    if (s.settings.kind != Q8_OBSERVER_MOVING_AVERAGE_MINMAX && mn > mx)
      bad(who + ": min " + std::to_string(mn) + " > max " + std::to_string(mx));
    TensorStats t(s.settings);
    if (!s.settings.histogram()) {
      if (seen) t.minmax() = {true, mn, mx};
    } else {
      const uint32_t first = r.u32(who + "'s first slot"), n_slots = r.u32(who + "'s slot count");
      if (first > slots || n_slots > slots - first)
        bad(who + ": slots [" + std::to_string(first) + ", " + std::to_string(uint64_t(first) + n_slots) +
            ") are outside the " + std::to_string(slots) + " slots");
      if (n_slots > r.left()) bad(who + ": " + std::to_string(n_slots) + " counts run past the end");
      std::fill(counts.begin(), counts.end(), 0.0);
      const std::string what_counts = who + "'s counts";
      for (uint32_t b = 0; b < n_slots; ++b) {
        const uint64_t c = r.varint(what_counts);
        if (c > (uint64_t(1) << 53)) bad(who + ": a count exceeds 2^53");
        counts[first + b] = double(c);
      }
      t.histogram().restore_range(seen != 0, mn, mx);
      if (!t.histogram().set_slots(counts.data()))
        bad(who + ": counts lie outside the bins its range [" + std::to_string(mn) + ", " + std::to_string(mx) +
            "] reaches, or add up past 2^53");
    }
    s.names.push_back(std::move(n));
    s.tensors.push_back(std::move(t));
  }
  if (r.left() != 0) bad(std::to_string(r.left()) + " bytes after the last activation");
  return s;
}

}  // namespace q8::calibration
