// Exact selection of the k smallest scores, ties to the earlier position, in linear time.
//
// Scores are mapped to unsigned keys whose integer order is the score order (the bit pattern of a
// non-negative float or double is). A radix search over the keys, 16 bits per pass, finds the
// k-th smallest key T and how many keys equal to T are among the k smallest. A last pass in the
// same order then takes every key below T and the first `ties` keys equal to T: exactly the k
// smallest, the earlier of equal keys first. No sort, no index array: a 64K-entry histogram only,
// which matters for weights of tens of millions of elements.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace q8::prune {

// |w| as a key (the sign bit cleared). NaN must have been rejected before.
inline uint32_t magnitude_key(float w) noexcept {
  uint32_t bits;
  std::memcpy(&bits, &w, sizeof bits);
  return bits & 0x7FFFFFFFu;
}

// A score >= 0 (a norm) as a key.
inline uint64_t score_key(double s) noexcept {
  uint64_t bits;
  std::memcpy(&bits, &s, sizeof bits);
  return bits;
}

// The result of the search: call take() on every key, in the searched order, once.
template <class Key>
class Cut {
 public:
  Cut(Key threshold, uint64_t ties) : threshold_(threshold), ties_(ties) {}
  bool take(Key key) noexcept {
    if (key < threshold_) return true;
    if (key == threshold_ && ties_ > 0) {
      --ties_;
      return true;
    }
    return false;
  }

 private:
  Key threshold_;
  uint64_t ties_;
};

// `visit(f)` must call f(key) for every key, in the same order each time; k <= the key count.
template <class Key, class Visit>
Cut<Key> smallest(uint64_t k, const Visit &visit) {
  if (k == 0) return Cut<Key>(0, 0);  // nothing is below 0 and no tie is taken
  constexpr int kBits = 8 * sizeof(Key);
  std::vector<uint64_t> hist(std::size_t(1) << 16);
  Key prefix = 0;      // the high bits of T found so far
  uint64_t rank = k;   // T's rank (from 1) among the keys that share `prefix`
  for (int shift = kBits - 16; shift >= 0; shift -= 16) {
    const Key high = shift + 16 >= kBits ? Key(0) : Key(~Key(0) << (shift + 16));
    std::fill(hist.begin(), hist.end(), 0);
    visit([&](Key key) {
      if ((key & high) == prefix) ++hist[(key >> shift) & 0xFFFFu];
    });
    std::size_t digit = 0;
    while (hist[digit] < rank) rank -= hist[digit++];
    prefix |= Key(digit) << shift;
  }
  return Cut<Key>(prefix, rank);
}

}  // namespace q8::prune
