/* q8 — common definitions: export macro, versions, status codes, dtypes, run-time settings.
 *
 * Conventions every q8 header follows:
 *  - A call that can fail returns q8_status; results come back through out-pointers, which are
 *    written only on success. On failure q8_last_error() names the argument and the problem.
 *  - Functions are named q8_<object>_<verb>. Ownership is in the verb: *_create and *_clone
 *    return a handle the caller owns and frees with *_destroy; *_wrap borrows the caller's memory,
 *    which must outlive the handle. *_destroy(NULL) is a no-op.
 *  - No C++ exception, abort or undefined behaviour crosses this ABI. Arrays passed in are copied
 *    unless a declaration says "borrowed". q8 never reads or writes past a buffer's stated size.
 *  - Status codes are only ever appended; an existing code never changes its number.
 */
#ifndef Q8_COMMON_H
#define Q8_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define Q8_API __declspec(dllexport)
#elif defined(__GNUC__)
#  define Q8_API __attribute__((visibility("default")))
#else
#  define Q8_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define Q8_VERSION_MAJOR 0
#define Q8_VERSION_MINOR 1
#define Q8_VERSION_PATCH 0
/* One integer, comparable: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define Q8_VERSION_NUMBER (Q8_VERSION_MAJOR * 10000 + Q8_VERSION_MINOR * 100 + Q8_VERSION_PATCH)

/* The library's own version at run time (compare with Q8_VERSION_NUMBER from the header you
 * compiled against: a different major number means an incompatible ABI). */
Q8_API unsigned q8_version(void);
/* "MAJOR.MINOR.PATCH", a static string. */
Q8_API const char *q8_version_string(void);

typedef enum q8_status {
  Q8_OK = 0,
  Q8_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, bad enum, non-finite or non-positive scale, ... */
  Q8_ERR_SHAPE = 2,            /* rank, dimension, element count or axis does not fit */
  Q8_ERR_DTYPE = 3,            /* element type not accepted by this call */
  Q8_ERR_OUT_OF_MEMORY = 4,
  Q8_ERR_IO = 5,
  Q8_ERR_FORMAT = 6,           /* malformed input bytes */
  Q8_ERR_UNSUPPORTED = 7,      /* valid request this build or CPU cannot do */
  Q8_ERR_INTERNAL = 8,         /* a bug in q8: please report it */
  Q8_ERR_STATE = 9             /* the object is not in a state that allows the call */
} q8_status;

/* A short static name for a status ("Q8_ERR_SHAPE"); "unknown status" for other values. */
Q8_API const char *q8_status_string(q8_status status);

/* The message of the last failing q8 call on this thread ("" if none). Valid until the next q8
 * call on this thread. Successful calls do not clear it. */
Q8_API const char *q8_last_error(void);

/* Element types. Values are stable; s4, f16 and bf16 are reserved for later versions. */
typedef enum q8_dtype {
  Q8_DTYPE_F32 = 0,
  Q8_DTYPE_S8 = 1,
  Q8_DTYPE_U8 = 2,
  Q8_DTYPE_S32 = 3
} q8_dtype;

/* Bytes per element of a dtype (0 for an unknown dtype). */
Q8_API size_t q8_dtype_size(q8_dtype dtype);
/* A short static name ("f32", "s8", "u8", "s32"); "unknown" otherwise. */
Q8_API const char *q8_dtype_name(q8_dtype dtype);

/* Instruction-set paths for q8's kernels. Results are bit-identical on every path. */
typedef enum q8_isa {
  Q8_ISA_AUTO = -1,         /* for q8_runtime_set_isa: the best the CPU supports */
  Q8_ISA_SCALAR = 0,        /* portable C++, the reference every fast path is tested against */
  Q8_ISA_AVX2 = 1,          /* x86-64 AVX2 + FMA */
  Q8_ISA_AVX512 = 2,        /* x86-64 AVX-512 F/BW/DQ/VL */
  Q8_ISA_AVX512_VNNI = 3,   /* AVX-512 plus VNNI */
  Q8_ISA_NEON = 4           /* aarch64 Advanced SIMD */
} q8_isa;

/* Whether this CPU and build can run a path. */
Q8_API int q8_runtime_isa_supported(q8_isa isa);
/* Force kernels to use `isa` (or Q8_ISA_AUTO) for all threads; Q8_ERR_UNSUPPORTED if the CPU
 * cannot run it. The environment variable Q8_ISA=scalar|avx2|avx512|avx512_vnni|neon sets the
 * initial choice when the library loads (an unsupported value falls back to auto). */
Q8_API q8_status q8_runtime_set_isa(q8_isa isa);
Q8_API q8_isa q8_runtime_isa(void);
Q8_API const char *q8_isa_name(q8_isa isa);

/* Upper bound on the worker threads q8 uses (0 = all cores, the default). Results never depend on
 * it. Not to be called while another thread is inside a q8 call. */
Q8_API q8_status q8_runtime_set_threads(int threads);
Q8_API int q8_runtime_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* Q8_COMMON_H */
