/* See bench_openblas.h. */
#define _GNU_SOURCE
#include "bench_openblas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *bench_openblas_fair_core(char **argv) {
  const char *core = openblas_get_corename();
  static const char *fallbacks[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
                                    "Coppermine", "Northwood", "Banias", "Atom", "Unknown"};
  static const char *avx2_cores[] = {"Haswell", "Zen", "Sandybridge"};
  int unfair = 0;
  for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; ++i) unfair |= !strcmp(core, fallbacks[i]);
  if (__builtin_cpu_supports("avx512f"))
    for (size_t i = 0; i < sizeof avx2_cores / sizeof avx2_cores[0]; ++i) unfair |= !strcmp(core, avx2_cores[i]);
  if (unfair && !getenv("OPENBLAS_CORETYPE")) {
    fprintf(stderr, "OpenBLAS chose its %s kernels: restarting with OPENBLAS_CORETYPE=SkylakeX\n", core);
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    execv("/proc/self/exe", argv);
    perror("execv");
    exit(1);
  }
  if (unfair)
    printf("NOTE: OpenBLAS runs its %s kernels because OPENBLAS_CORETYPE=%s is set; on this AVX-512 CPU "
           "OPENBLAS_CORETYPE=SkylakeX is the fair (faster) FP32 peer\n",
           core, getenv("OPENBLAS_CORETYPE"));
  return core;
}
