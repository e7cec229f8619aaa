#include "support.h"

#include <math.h>

void rng_seed(test_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

uint64_t rng_next(test_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1Dull;
}

double rng_uniform(test_rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(test_rng *r) {
  double u1 = rng_uniform(r), u2 = rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double rng_student_t(test_rng *r, int dof) {
  double chi2 = 0;
  for (int i = 0; i < dof; ++i) {
    double z = rng_normal(r);
    chi2 += z * z;
  }
  return rng_normal(r) / sqrt(chi2 / dof);
}

size_t supported_isas(q8_isa out[8]) {
  const q8_isa all[] = {Q8_ISA_SCALAR, Q8_ISA_AVX2, Q8_ISA_AVX512, Q8_ISA_AVX512_VNNI, Q8_ISA_NEON};
  size_t n = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
    if (q8_runtime_isa_supported(all[i])) out[n++] = all[i];
  return n;
}

q8_tensor *make_tensor(q8_dtype dt, const int64_t *shape, size_t rank) {
  q8_tensor *t = NULL;
  Q8_OK_OR_FAIL(q8_tensor_create(dt, shape, rank, &t));
  return t;
}

void *tensor_data(const q8_tensor *t) {
  void *p = NULL;
  Q8_OK_OR_FAIL(q8_tensor_data(t, &p));
  return p;
}
