/* OpenBLAS as a benchmark peer: its declarations (so the benches need no BLAS header path) and
 * the check that it runs kernels fit for this CPU. */
#ifndef Q8_BENCH_OPENBLAS_H
#define Q8_BENCH_OPENBLAS_H

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };

/* OpenBLAS picks its kernels ("core") when it loads. If it chose an old SSE fallback, or its
 * AVX2 kernels on an AVX-512 CPU it does not know (this AMD family gets "Haswell": about half
 * the f32 rate of its SkylakeX kernels here), the process restarts itself with
 * OPENBLAS_CORETYPE=SkylakeX, since such a baseline is not fair -- unless the user set
 * OPENBLAS_CORETYPE, in which case a NOTE says so. Returns the core name. */
const char *bench_openblas_fair_core(char **argv);

#endif
