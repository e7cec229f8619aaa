package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import q8.*;

/** Failures come back as Q8Exception with the status and q8_last_error()'s message. */
class ErrorTest {
  static Q8Exception fails(Status status, org.junit.jupiter.api.function.Executable call, String... words) {
    Q8Exception e = assertThrows(Q8Exception.class, call);
    assertEquals(status, e.getStatus(), e.getMessage());
    assertEquals(status.swigValue(), e.getCode());
    assertTrue(e.getMessage().startsWith(Q8.statusString(status) + ": "), e.getMessage());
    for (String w : words)
      assertTrue(e.getMessage().contains(w), "'" + w + "' missing from: " + e.getMessage());
    return e;
  }

  @Test
  void statusFromTheCApi() {
    try (Tensor q = new Tensor(DType.S8, new long[] {4})) {
      Q8Exception e = fails(Status.ERR_INVALID_ARGUMENT, () -> q.setQParams(-1f, 0), "scale");
      assertEquals(e.getMessage(), Q8.statusString(Status.ERR_INVALID_ARGUMENT) + ": " + Q8.lastError());
      fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.tensorSetQparams(q, 0.1f, 300), "zero");
      try (Tensor x = new Tensor(DType.F32, new long[] {4}); Tensor y = new Tensor(DType.F32, new long[] {4})) {
        fails(Status.ERR_DTYPE, () -> Q8.quantize(x, y));
        fails(Status.ERR_STATE, () -> Q8.quantize(x, q), "no quantization parameters");
      }
    }
  }

  @Test
  void bindingChecksNameTheProblem() {
    fails(Status.ERR_SHAPE, () -> Tensor.fromF32(new float[3], new long[] {2, 2}), "3", "4");
    fails(Status.ERR_SHAPE, () -> new Tensor(DType.F32, new long[] {1, 1, 1, 1, 1, 1, 1, 1, 1}), "rank");
    fails(Status.ERR_SHAPE, () -> new Tensor(DType.F32, new long[] {2, -1}), "negative");
    try (Tensor t = new Tensor(DType.F32, new long[] {2})) {
      fails(Status.ERR_DTYPE, () -> t.copyToS8(new byte[2]), "f32", "s8");
      fails(Status.ERR_SHAPE, () -> t.copyToF32(new float[3]));
      fails(Status.ERR_SHAPE, () -> t.dim(5), "dimension");
      fails(Status.ERR_INVALID_ARGUMENT, () -> t.scale(0));
    }
    int[] c = new int[6];
    fails(Status.ERR_SHAPE, () -> Q8.gemmU8s8S32(2, 3, 2, new byte[4], 0, new byte[6], false, 0, new int[2], c), "bias");
    fails(Status.ERR_SHAPE, () -> Q8.gemmU8s8S32(2, 3, 2, new byte[4], 0, new byte[6], false, 0, null, new int[5]), "c");
    fails(Status.ERR_SHAPE, () -> Q8.gemmS8s8S32(-1, 3, 2, (byte[]) null, 0, null, false, 0, null, null));
    fails(Status.ERR_SHAPE, () -> Q8.fixedAddQ15(new short[3], new short[2], new short[3]), "second operand");
  }

  @Test
  void arraysSurviveAnErrorWhilePinned() {
    // The error is raised while A, B and C are pinned; it must surface after they are released,
    // and the arrays stay usable.
    byte[] a = {1, 2, 3, 4};
    int[] c = {9, 9, 9, 9, 9, 9};
    for (int i = 0; i < 3; i++)
      fails(Status.ERR_SHAPE, () -> Q8.gemmU8s8S32(2, 3, 2, a, 0, new byte[6], false, 0, new int[1], c));
    assertArrayEquals(new byte[] {1, 2, 3, 4}, a);
    Q8.gemmU8s8S32(2, 3, 2, a, 0, new byte[] {1, 0, 0, 0, 1, 0}, false, 0, null, c);
    assertArrayEquals(new int[] {1, 2, 0, 3, 4, 0}, c);
  }

  @Test
  void invalidEnumAndOptionValues() {
    try (Tensor x = Tensor.fromF32(new float[] {1, 2}, new long[] {2})) {
      fails(Status.ERR_SHAPE, () -> Q8.quantizeTensor(x, Scheme.SYMMETRIC, 3));
    }
    fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.qparamsFromRange(Scheme.ASYMMETRIC_U8, 2f, 1f));
    fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.fixedFromF32S8(new float[1], new byte[1], 9, Rounding.TOWARD_ZERO));
    fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.fixedQuantizeMultiplier(-1.0));
  }

  @Test
  void modelLoadErrors() throws Exception {
    fails(Status.ERR_IO, () -> Model.loadOnnx("/nonexistent/model.onnx"), "/nonexistent/model.onnx");
    fails(Status.ERR_FORMAT, () -> Model.loadOnnxBytes(new byte[] {1, 2, 3, 4, 5}));
    fails(Status.ERR_FORMAT, () -> Model.loadBytes(new byte[64]));
    // Paths travel as UTF-8 both ways, characters outside the BMP included.
    Path dir = Files.createTempDirectory("q8-\u00e9\u00df-\ud83d\ude00");
    try {
      String path = dir.resolve("m\u00fcde.onnx").toString();
      fails(Status.ERR_IO, () -> Model.loadOnnx(path), path);
    } finally {
      Files.delete(dir);
    }
    assertThrows(NullPointerException.class, () -> Model.loadOnnx(null));
    assertThrows(IllegalArgumentException.class, () -> Model.loadOnnx("a\0b"));
  }

  @Test
  void javaArgumentErrors() {
    assertThrows(NullPointerException.class, () -> new Tensor(DType.F32, null));
    // null is an empty array: q8 then reports the length it expected.
    fails(Status.ERR_SHAPE, () -> Tensor.fromF32((float[]) null, new long[] {2}), "0", "2");
    try (Tensor t = Tensor.fromF32((float[]) null, new long[] {0})) {
      assertEquals(0, t.numel());
    }
  }
}
