/* The q8 side of the ONNX Runtime check (tests/ort/check_qdq.js), through the public C API only:
 * loads a bundled digits model, quantizes it (static: calibration on the training rows,
 * i % 4 != 0; or dynamic), exports it as QDQ ONNX, runs q8's INT8 session on the held-out rows
 * (i % 4 == 0) as one batch, and writes
 *   OUT/<model>.<mode>.onnx       the export
 *   OUT/<model>.<mode>.input.bin  the input batch
 *   OUT/<model>.<mode>.q8.bin     q8's output 0, with the size of one quantization step
 * Tensor files: "Q8TENSOR", u32 rank, f32 step, i64 dims[rank], then f32 data, all little-endian.
 * The step is the scale of the quantized tensor that the model's final DequantizeLinear turns into
 * the output (q8's run-time qparams of that tensor); 0 when the output is not quantized then
 * dequantized (dynamic models: the last operator computes f32 directly).
 *
 * usage: make_case MODEL.onnx DIGITS.csv.gz OUTDIR static|dynamic */
#include <q8/q8.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../digits.h"

static digits_rows g_train, g_test;

static void die(const char *what) {
  fprintf(stderr, "make_case: %s\n", what);
  exit(1);
}

static void check(q8_status st, const char *call) {
  if (st != Q8_OK) {
    fprintf(stderr, "make_case: %s -> %s: %s\n", call, q8_status_string(st), q8_last_error());
    exit(1);
  }
}
#define CHECK(call) check((call), #call)

/* A digits_* call's failure ends the program. */
static void ok(const char *err) {
  if (err) die(err);
}

static void write_tensor(const char *path, const q8_tensor *t, float step) {
  size_t rank = 0, n = 0;
  int64_t dims[8];
  q8_dtype dt;
  CHECK(q8_tensor_dtype(t, &dt));
  if (dt != Q8_DTYPE_F32) die("the tensor to write is not f32");
  CHECK(q8_tensor_rank(t, &rank));
  CHECK(q8_tensor_shape(t, dims, 8));
  CHECK(q8_tensor_numel(t, &n));
  void *data = NULL;
  CHECK(q8_tensor_data(t, &data));
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot create an output file");
  /* The fields are written byte by byte so the file is little-endian on any host. */
  unsigned char head[16] = {'Q', '8', 'T', 'E', 'N', 'S', 'O', 'R'};
  uint32_t r = (uint32_t)rank, s;
  memcpy(&s, &step, 4);
  for (int i = 0; i < 4; ++i) head[8 + i] = (unsigned char)(r >> (8 * i)), head[12 + i] = (unsigned char)(s >> (8 * i));
  fwrite(head, 1, 16, f);
  for (size_t d = 0; d < rank; ++d)
    for (int i = 0; i < 8; ++i) fputc((int)(((uint64_t)dims[d] >> (8 * i)) & 0xff), f);
  const float *x = data;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    memcpy(&u, &x[i], 4);
    for (int b = 0; b < 4; ++b) fputc((int)((u >> (8 * b)) & 0xff), f);
  }
  if (fclose(f) != 0) die("cannot write an output file");
}

/* The step of output 0: the scale of the tensor a final DequantizeLinear reads, or 0. */
static float output_step(const q8_model *m, const q8_session *s, char *about, size_t cap) {
  const char *out = NULL;
  size_t nodes = 0;
  CHECK(q8_model_output_name(m, 0, &out));
  CHECK(q8_model_node_count(m, &nodes));
  snprintf(about, cap, "output '%s' is not quantized then dequantized: no step", out);
  for (size_t k = 0; k < nodes; ++k) {
    const char *op = NULL, *y = NULL, *x = NULL;
    CHECK(q8_model_node_info(m, k, NULL, NULL, &op, NULL, NULL));
    CHECK(q8_model_node_output(m, k, 0, &y));
    if (!y || strcmp(y, out) != 0 || strcmp(op, "DequantizeLinear") != 0) continue;
    CHECK(q8_model_node_input(m, k, 0, &x));
    const q8_tensor *q = NULL;
    CHECK(q8_session_tensor(s, x, &q));
    int32_t axis = 0;
    size_t count = 0;
    CHECK(q8_tensor_qparams_layout(q, &axis, &count));
    if (axis != -1 || count != 1) die("the output's quantized tensor is not quantized per tensor");
    float scale;
    int32_t zp;
    CHECK(q8_tensor_get_qparams(q, &scale, &zp, 1));
    snprintf(about, cap, "step = scale of '%s' (%.9g, zero point %d), which DequantizeLinear turns into '%s'", x,
             (double)scale, zp, out);
    return scale;
  }
  return 0.0f;
}

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[4], "static") != 0 && strcmp(argv[4], "dynamic") != 0)) {
    fprintf(stderr, "usage: make_case MODEL.onnx DIGITS.csv.gz OUTDIR static|dynamic\n");
    return 2;
  }
  const char *model_path = argv[1], *mode = argv[4];
  ok(digits_load(argv[2], &g_train, &g_test));
  if (g_test.n == 0) die("no rows in the digits CSV");
  q8_model *fp32 = NULL, *q = NULL;
  CHECK(q8_model_load_onnx(model_path, &fp32));

  q8_ptq_options o;
  CHECK(q8_ptq_options_init(&o));
  o.mode = strcmp(mode, "static") == 0 ? Q8_PTQ_STATIC : Q8_PTQ_DYNAMIC;
  ok(digits_quantize(fp32, &o, o.mode == Q8_PTQ_STATIC ? &g_train : NULL, 32, &q));

  /* <OUTDIR>/<model file name without .onnx>.<mode>.* */
  const char *base = strrchr(model_path, '/');
  base = base ? base + 1 : model_path;
  char stem[512], path[1024];
  snprintf(stem, sizeof stem, "%s/%.*s.%s", argv[3], (int)(strlen(base) > 5 ? strlen(base) - 5 : strlen(base)),
           base, mode);
  snprintf(path, sizeof path, "%s.onnx", stem);
  CHECK(q8_model_export_onnx(q, path));

  q8_session *s = NULL;
  CHECK(q8_session_create(q, (int64_t)g_test.n, &s));
  q8_tensor *in = NULL;
  ok(digits_wrap(q, g_test.x, g_test.n, &in));
  const q8_tensor *ins[1] = {in}, *y = NULL;
  CHECK(q8_session_run(s, ins, 1));
  CHECK(q8_session_output(s, 0, &y));
  char about[512];
  const float step = output_step(q, s, about, sizeof about);
  snprintf(path, sizeof path, "%s.input.bin", stem);
  write_tensor(path, in, 0.0f);
  snprintf(path, sizeof path, "%s.q8.bin", stem);
  write_tensor(path, y, step);
  printf("make_case: %s.{onnx,input.bin,q8.bin}: %s, %zu held-out rows; %s\n", stem, mode, g_test.n, about);

  q8_tensor_destroy(in);
  q8_session_destroy(s);
  q8_model_destroy(q);
  q8_model_destroy(fp32);
  return 0;
}
