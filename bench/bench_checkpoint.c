/* q8_checkpoint_quantize against the simplest program that could do its job, in one process,
 * rounds interleaved A, B, A, B (docs/CHECKPOINTS.md has the figures):
 *   A (the peer): read() the safetensors file front to back into one reused buffer, a tensor at a
 *     time, and quantize every 2-D F32 tensor to INT8 per row (max|row| / 127, then q8_quantize's
 *     kernel on the row) into a reused buffer: one pass, one thread, no memory cap, no output;
 *   B: q8_checkpoint_quantize(max_memory 512 MiB) writing a new .q8 file (fsync included; the
 *     previous round's output is removed before the clock starts).
 * Prints GB/s of input for both, the ratio B / A (median of per-round ratios), and the peak RSS of
 * B alone, measured in a child forked before the peer's buffers exist (wait4's ru_maxrss).
 *
 * usage: bench_checkpoint [CHECKPOINT.safetensors] [--rounds N] [--threads N]
 * Without a path, a ~1 GB FP32 checkpoint (4 layers of 4096x4096 + 4096x11008) is generated in
 * /tmp and removed at the end. Only F32 2-D tensors are quantized by the peer. */
#define _DEFAULT_SOURCE
#include <ctype.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "q8/q8.h"

/* ---- the safetensors header, for the peer (flat JSON: names -> {dtype, shape, data_offsets}) ---- */

typedef struct {
  char dtype[8];
  int64_t shape[8];
  int rank;
  uint64_t begin, end;
} st_entry;

typedef struct {
  st_entry *e;
  size_t n;
  uint64_t data_offset;
} st_header;

static void die(const char *msg) {
  fprintf(stderr, "bench_checkpoint: %s\n", msg);
  exit(1);
}

static const char *skip_ws(const char *p) {
  while (isspace((unsigned char)*p)) ++p;
  return p;
}

/* Past a JSON string starting at p ('"'), copying up to cap - 1 bytes of it into out. */
static const char *read_string(const char *p, char *out, size_t cap) {
  size_t n = 0;
  for (++p; *p && *p != '"'; ++p) {
    if (*p == '\\' && p[1]) ++p;
    if (out && n + 1 < cap) out[n++] = *p;
  }
  if (out) out[n] = '\0';
  return *p ? p + 1 : p;
}

static const char *read_ints(const char *p, int64_t *v, int *count, int cap) {
  *count = 0;
  p = skip_ws(p);
  if (*p != '[') die("bad header: an array was expected");
  for (++p;;) {
    p = skip_ws(p);
    if (*p == ']') return p + 1;
    char *end;
    const long long x = strtoll(p, &end, 10);
    if (end == p) die("bad header: an integer was expected");
    if (*count < cap) v[(*count)++] = x;
    p = skip_ws(end);
    if (*p == ',') ++p;
  }
}

static st_header read_header(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open the checkpoint");
  uint8_t len8[8];
  if (fread(len8, 1, 8, f) != 8) die("short file");
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= (uint64_t)len8[i] << (8 * i);
  char *text = malloc(len + 1);
  if (!text || fread(text, 1, len, f) != len) die("cannot read the header");
  text[len] = '\0';
  fclose(f);
  st_header h = {calloc(len / 16 + 1, sizeof(st_entry)), 0, 8 + len};
  const char *p = skip_ws(text);
  if (*p++ != '{') die("bad header");
  for (;;) {
    p = skip_ws(p);
    if (*p == '}') break;
    char name[512];
    p = skip_ws(read_string(p, name, sizeof name));
    if (*p++ != ':') die("bad header: ':' expected");
    p = skip_ws(p);
    if (*p++ != '{') die("bad header: an object expected");
    st_entry e;
    memset(&e, 0, sizeof e);
    int depth = 1;
    while (depth > 0) {
      p = skip_ws(p);
      if (*p == '}') { --depth; ++p; continue; }
      if (*p == ',') { ++p; continue; }
      char key[32];
      p = skip_ws(read_string(p, key, sizeof key));
      if (*p++ != ':') die("bad header: ':' expected");
      p = skip_ws(p);
      if (!strcmp(key, "dtype")) {
        p = read_string(p, e.dtype, sizeof e.dtype);
      } else if (!strcmp(key, "shape")) {
        p = read_ints(p, e.shape, &e.rank, 8);
      } else if (!strcmp(key, "data_offsets")) {
        int64_t o[2];
        int n;
        p = read_ints(p, o, &n, 2);
        e.begin = (uint64_t)o[0];
        e.end = (uint64_t)o[1];
      } else {
        p = read_string(p, NULL, 0); /* __metadata__ values */
      }
    }
    if (strcmp(name, "__metadata__") != 0) h.e[h.n++] = e;
    p = skip_ws(p);
    if (*p == ',') ++p;
  }
  free(text);
  return h;
}

static int by_offset(const void *a, const void *b) {
  const st_entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* ---- A: the peer ----------------------------------------------------------------------------- */

typedef struct {
  const char *path;
  st_header h;
  uint8_t *in;    /* reused: the largest tensor */
  int8_t *codes;  /* reused */
  float *scales;
  size_t max_cols;
  q8_tensor *row_in, *row_out;
  double checksum;
} peer;

static float abs_max(const float *x, size_t n) {
  float m[16] = {0};
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const float a = fabsf(x[i + l]);
      m[l] = a > m[l] ? a : m[l];
    }
  for (; i < n; ++i) m[0] = fmaxf(m[0], fabsf(x[i]));
  float r = 0;
  for (int l = 0; l < 16; ++l) r = fmaxf(r, m[l]);
  return r;
}

static void read_fully(int fd, uint8_t *dst, uint64_t n) {
  while (n) {
    const ssize_t got = read(fd, dst, n > (1u << 30) ? (1u << 30) : n);
    if (got <= 0) die("read failed");
    dst += got;
    n -= (uint64_t)got;
  }
}

static void run_peer(peer *p) {
  const int fd = open(p->path, O_RDONLY);
  if (fd < 0) die("cannot open the checkpoint");
  uint8_t *head = malloc(p->h.data_offset);
  read_fully(fd, head, p->h.data_offset);
  free(head);
  uint64_t at = 0;
  for (size_t t = 0; t < p->h.n; ++t) {
    const st_entry *e = &p->h.e[t];
    if (e->begin > at) {  /* a gap: read past it */
      read_fully(fd, p->in, e->begin - at);
      at = e->begin;
    }
    read_fully(fd, p->in, e->end - e->begin);
    at = e->end;
    if (strcmp(e->dtype, "F32") != 0 || e->rank != 2) continue;
    const size_t rows = (size_t)e->shape[0], cols = (size_t)e->shape[1];
    for (size_t r = 0; r < rows; ++r) {
      const float *x = (const float *)p->in + r * cols;
      const float m = abs_max(x, cols);
      const float s = m == 0 ? 1.0f : fmaxf(m / 127.0f, FLT_EPSILON);
      p->scales[r] = s;
      /* q8's own quantize kernel on one row, through borrowed tensors */
      const int64_t shape[1] = {(int64_t)cols};
      q8_tensor *xi = NULL, *yo = NULL;
      if (q8_tensor_wrap(Q8_DTYPE_F32, shape, 1, (void *)x, cols * 4, &xi) != Q8_OK ||
          q8_tensor_wrap(Q8_DTYPE_S8, shape, 1, p->codes + r * cols, cols, &yo) != Q8_OK ||
          q8_tensor_set_qparams(yo, s, 0) != Q8_OK || q8_quantize(xi, yo) != Q8_OK)
        die(q8_last_error());
      q8_tensor_destroy(xi);
      q8_tensor_destroy(yo);
    }
    p->checksum += p->codes[rows * cols / 2] + p->scales[rows / 2];
  }
  close(fd);
}

/* ---- B: q8 ----------------------------------------------------------------------------------- */

static q8_checkpoint_report run_q8(const char *in, const char *out, size_t threads) {
  q8_checkpoint_options o;
  q8_checkpoint_options_init(&o);
  o.max_memory = (uint64_t)512 << 20;
  o.threads = threads;
  q8_checkpoint_report r;
  r.struct_size = sizeof r;
  if (q8_checkpoint_quantize(in, out, &o, &r) != Q8_OK) die(q8_last_error());
  return r;
}

/* ---- a generated checkpoint ------------------------------------------------------------------- */

static float value(uint64_t i) {
  i = (i ^ (i >> 31)) * 0x9E3779B97F4A7C15ull;
  i = (i ^ (i >> 29)) * 0xBF58476D1CE4E5B9ull;
  i ^= i >> 32;
  return ((float)(i >> 40) / 8388608.0f - 1.0f) * 0.02f;
}

static void generate(const char *path, int layers, int hidden, int ffn) {
  char *header = malloc(4096 + (size_t)layers * 512);
  size_t len = (size_t)sprintf(header, "{\"__metadata__\":{\"format\":\"pt\"}");
  uint64_t at = 0;
  for (int l = 0; l < layers; ++l) {
    const uint64_t n = (uint64_t)hidden * 4, a = (uint64_t)hidden * hidden * 4, b = (uint64_t)hidden * ffn * 4;
    len += (size_t)sprintf(header + len,
                           ",\"layers.%d.norm\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%llu,%llu]}"
                           ",\"layers.%d.attn\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]}"
                           ",\"layers.%d.ffn\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%llu,%llu]}",
                           l, hidden, (unsigned long long)at, (unsigned long long)(at + n), l, hidden, hidden,
                           (unsigned long long)(at + n), (unsigned long long)(at + n + a), l, hidden, ffn,
                           (unsigned long long)(at + n + a), (unsigned long long)(at + n + a + b));
    at += n + a + b;
  }
  header[len++] = '}';
  while ((8 + len) % 8) header[len++] = ' ';
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot create the checkpoint");
  uint8_t len8[8];
  for (int i = 0; i < 8; ++i) len8[i] = (uint8_t)((uint64_t)len >> (8 * i));
  fwrite(len8, 1, 8, f);
  fwrite(header, 1, len, f);
  free(header);
  const size_t block = 1 << 20;
  float *buf = malloc(block * 4);
  for (uint64_t i = 0; i < at / 4; i += block) {
    const size_t n = at / 4 - i < block ? (size_t)(at / 4 - i) : block;
    for (size_t j = 0; j < n; ++j) buf[j] = value(i + j);
    fwrite(buf, 4, n, f);
  }
  free(buf);
  if (fclose(f) != 0) die("cannot write the checkpoint");
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int rounds = 3;
  size_t threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = (size_t)atoi(argv[++i]);
    else if (argv[i][0] != '-') path = argv[i];
    else die("usage: bench_checkpoint [CHECKPOINT.safetensors] [--rounds N] [--threads N]");
  }
  if (rounds < 1 || rounds > 100) die("--rounds must be in [1, 100]");
  char generated[] = "/tmp/q8-bench-checkpoint.safetensors";
  if (!path) {
    printf("generating %s (4 layers of 4096x4096 + 4096x11008 F32)...\n", generated);
    fflush(stdout);
    generate(generated, 4, 4096, 11008);
    path = generated;
  }
  char out[4096];
  snprintf(out, sizeof out, "%s.bench.q8", path);

  /* B's own peak RSS: a run in a child forked before this process holds the peer's buffers. */
  fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    run_q8(path, out, threads);
    _exit(0);
  }
  int status = 0;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("the RSS run failed");

  peer p;
  memset(&p, 0, sizeof p);
  p.path = path;
  p.h = read_header(path);
  qsort(p.h.e, p.h.n, sizeof *p.h.e, by_offset);
  uint64_t biggest = 1, rows = 1, elems = 1;
  for (size_t t = 0; t < p.h.n; ++t) {
    const st_entry *e = &p.h.e[t];
    if (e->end - e->begin > biggest) biggest = e->end - e->begin;
    if (!strcmp(e->dtype, "F32") && e->rank == 2) {
      if ((uint64_t)e->shape[0] > rows) rows = (uint64_t)e->shape[0];
      if ((uint64_t)(e->shape[0] * e->shape[1]) > elems) elems = (uint64_t)(e->shape[0] * e->shape[1]);
    }
  }
  p.in = bench_alloc(biggest);
  p.codes = bench_alloc(elems);
  p.scales = bench_alloc(rows * 4);

  struct stat st;
  if (stat(path, &st) != 0) die("cannot stat the checkpoint");
  const double gb = (double)st.st_size / 1e9;
  printf("checkpoint %s: %.3f GB, %zu tensors; q8 threads %s, max_memory 512 MiB\n", path, gb, p.h.n,
         threads ? "as given" : "all cores");
  double *a = calloc((size_t)rounds, sizeof(double)), *b = calloc((size_t)rounds, sizeof(double));
  double *ratio = calloc((size_t)rounds, sizeof(double));
  run_peer(&p); /* warm-up: the file in the page cache for both */
  run_q8(path, out, threads);
  const bench_load_mark mark = bench_load_begin();
  for (int r = 0; r < rounds; ++r) {
    double t0 = bench_now();
    run_peer(&p);
    a[r] = gb / (bench_now() - t0);
    unlink(out); /* B writes a new file, as a first run does (replacing one also frees its blocks) */
    t0 = bench_now();
    const q8_checkpoint_report rep = run_q8(path, out, threads);
    b[r] = gb / (bench_now() - t0);
    ratio[r] = b[r] / a[r];
    printf("round %d: peer (read + quantize, 1 thread) %6.2f GB/s   q8_checkpoint_quantize %6.2f GB/s   "
           "ratio %.2f   (in flight %.0f MiB)\n",
           r + 1, a[r], b[r], ratio[r], (double)rep.peak_in_flight_bytes / 1048576.0);
    fflush(stdout);
  }
  const double others = bench_load_others(mark);
  const double ma = bench_median(a, (size_t)rounds), mb = bench_median(b, (size_t)rounds);
  const double mr = bench_median(ratio, (size_t)rounds);

  printf("median: peer %.2f GB/s, q8 %.2f GB/s of input, ratio q8/peer %.2f (target >= 0.70); "
         "q8 peak RSS %.1f MiB; other load %.2f cores\n",
         ma, mb, mr, (double)ru.ru_maxrss / 1024.0, others);
  unlink(out);
  if (path == generated) unlink(generated);
  free(a); free(b); free(ratio);
  free(p.in); free(p.codes); free(p.scales); free(p.h.e);
  return 0;
}
