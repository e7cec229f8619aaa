// Block drivers shared by the SIMD kernel files: a kernel supplies the body for one block of E
// elements (unaligned loads and stores of whole vectors); the driver runs it over every whole block
// and once more over a zero-padded copy of the remainder, so no kernel reads or writes past an
// array and no kernel needs a separate scalar tail.
//
// In place (dst == src) is safe: a body loads its block before it stores it, and the remainder is
// copied in before its result is copied out.
#pragma once
#include <cstddef>
#include <cstring>

namespace q8::fixed {
// Internal linkage: each kernel file instantiates these with its own ISA flags.
namespace {

template <std::size_t E, class S, class D, class Body>
inline void each_block(const S *src, D *dst, std::size_t n, Body body) {
  std::size_t i = 0;
  for (; i + E <= n; i += E) body(src + i, dst + i);
  if (i < n) {
    alignas(64) S s[E] = {};
    alignas(64) D d[E] = {};
    std::memcpy(s, src + i, (n - i) * sizeof(S));
    body(s, d);
    std::memcpy(dst + i, d, (n - i) * sizeof(D));
  }
}

template <std::size_t E, class S, class D, class Body>
inline void each_block2(const S *a, const S *b, D *dst, std::size_t n, Body body) {
  std::size_t i = 0;
  for (; i + E <= n; i += E) body(a + i, b + i, dst + i);
  if (i < n) {
    alignas(64) S sa[E] = {};
    alignas(64) S sb[E] = {};
    alignas(64) D d[E] = {};
    std::memcpy(sa, a + i, (n - i) * sizeof(S));
    std::memcpy(sb, b + i, (n - i) * sizeof(S));
    body(sa, sb, d);
    std::memcpy(dst + i, d, (n - i) * sizeof(D));
  }
}

// For reductions: body(a_block, b_block) accumulates; returns how many blocks ran (the padded
// remainder counts as one; its zero elements contribute zero products).
template <std::size_t E, class S, class Body>
inline std::size_t each_pair(const S *a, const S *b, std::size_t n, Body body) {
  std::size_t i = 0, blocks = 0;
  for (; i + E <= n; i += E, ++blocks) body(a + i, b + i);
  if (i < n) {
    alignas(64) S sa[E] = {};
    alignas(64) S sb[E] = {};
    std::memcpy(sa, a + i, (n - i) * sizeof(S));
    std::memcpy(sb, b + i, (n - i) * sizeof(S));
    body(sa, sb);
    ++blocks;
  }
  return blocks;
}

}  // namespace
}  // namespace q8::fixed
