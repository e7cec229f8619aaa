package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import q8.*;

/** The bundled digits models: load, quantize (static on the training rows), run on the 450
 * held-out rows; INT8 stays within one point of FP32 (tests/data/models/fp32_accuracy.json). */
class ModelTest {
  static Digits train, test;

  @BeforeAll
  static void data() throws Exception {
    Digits all = Digits.load();
    assertEquals(1797, all.rows);
    train = all.split(false);
    test = all.split(true);
    assertEquals(450, test.rows);
  }

  static Model load(String name) {
    return Model.loadOnnx(Digits.data("models", "digits_" + name + ".onnx").toString());
  }

  /** Logits of every held-out row, in batches of 64 (one session per batch size). */
  static float[] logits(Model m, boolean cnn) {
    float[] out = new float[test.rows * 10];
    Session full = null, last = null;
    try {
      for (int first = 0; first < test.rows; first += 64) {
        int b = Math.min(64, test.rows - first);
        Session s;
        if (b == 64)
          s = full != null ? full : (full = new Session(m, 64));
        else
          s = last = new Session(m, b);
        try (Tensor x = test.batch(first, b, cnn)) {
          s.runOne(x);
        }
        System.arraycopy(s.outputF32(0), 0, out, first * 10, b * 10);
      }
    } finally {
      if (full != null)
        full.close();
      if (last != null)
        last.close();
    }
    return out;
  }

  static double accuracy(Model m, boolean cnn) {
    float[] y = logits(m, cnn);
    int ok = 0;
    for (int i = 0; i < test.rows; i++) {
      int best = 0;
      for (int c = 1; c < 10; c++)
        if (y[i * 10 + c] > y[i * 10 + best])
          best = c;
      ok += best == test.y[i] ? 1 : 0;
    }
    return 100.0 * ok / test.rows;
  }

  static List<Tensor> calibration(boolean cnn) {
    List<Tensor> batches = new ArrayList<>();
    for (int first = 0; first < train.rows; first += 64)
      batches.add(train.batch(first, Math.min(64, train.rows - first), cnn));
    return batches;
  }

  static Model quantizeStatic(Model m, boolean cnn) {
    List<Tensor> batches = calibration(cnn);
    try (PtqOptions o = new PtqOptions()) {
      assertEquals(PtqMode.STATIC, o.getMode(), "constructed with the library's defaults");
      assertEquals(1, o.getPerChannel());
      return m.quantize(o, batches);
    } finally {
      for (Tensor t : batches)
        t.close();
    }
  }

  @Test
  void modelInfo() {
    try (Model m = load("mlp")) {
      assertEquals(1, m.inputCount());
      assertEquals(1, m.outputCount());
      assertEquals("input", m.inputName(0));
      assertEquals("logits", m.outputName(0));
      assertEquals(5, m.nodeCount());
      assertTrue(m.weightBytes() > 300_000, "f32 weights: " + m.weightBytes());
      assertTrue(m.describe(false).contains("Gemm"));
      assertTrue(m.describe(true).trim().startsWith("{"));
      assertEquals(0.0, m.weightSparsity());
    }
  }

  @Test
  void mlpStaticInt8WithinOnePoint() {
    try (Model m = load("mlp"); Model q = quantizeStatic(m, false)) {
      double a32 = accuracy(m, false), a8 = accuracy(q, false);
      System.out.printf("mlp: fp32 %.2f%%, int8 %.2f%%, weights %d -> %d bytes%n", a32, a8, m.weightBytes(), q.weightBytes());
      assertEquals(97.33, a32, 0.5, "FP32 as trained (fp32_accuracy.json)");
      assertTrue(a32 - a8 <= 1.0, "int8 " + a8 + " vs fp32 " + a32);
      assertTrue(q.weightBytes() * 3 < m.weightBytes(), "INT8 weights are about 4x smaller");
      assertTrue(q.describe(false).contains("QGemm"), "static mode runs QGemm");
    }
  }

  @Test
  void cnnStaticInt8WithinOnePoint() {
    try (Model m = load("cnn"); Model q = quantizeStatic(m, true)) {
      double a32 = accuracy(m, true), a8 = accuracy(q, true);
      System.out.printf("cnn: fp32 %.2f%%, int8 %.2f%%%n", a32, a8);
      assertEquals(99.33, a32, 0.5);
      assertTrue(a32 - a8 <= 1.0, "int8 " + a8 + " vs fp32 " + a32);
    }
  }

  @Test
  void dynamicModeNeedsNoCalibration() {
    try (Model m = load("mlp"); PtqOptions o = new PtqOptions()) {
      o.setMode(PtqMode.DYNAMIC);
      try (Model q = m.quantize(o)) {
        assertTrue(accuracy(m, false) - accuracy(q, false) <= 1.5);
      }
      o.setMode(PtqMode.STATIC);
      Q8Exception e = assertThrows(Q8Exception.class, () -> m.quantize(o));
      assertNotNull(e.getStatus());
    }
  }

  @Test
  void saveAndLoadGiveTheSameBits() throws Exception {
    Path dir = Files.createTempDirectory("q8-java");
    Path file = dir.resolve("mlp.q8"), exported = dir.resolve("mlp_int8.onnx");
    try (Model m = load("mlp"); Model q = quantizeStatic(m, false)) {
      q.save(file.toString());
      try (Model back = Model.load(file.toString());
           Model fromBytes = Model.loadBytes(Files.readAllBytes(file))) {
        float[] want = logits(q, false);
        assertArrayEquals(want, logits(back, false));
        assertArrayEquals(want, logits(fromBytes, false));
      }
      try (Model onnx = Model.loadOnnxBytes(Files.readAllBytes(Digits.data("models", "digits_mlp.onnx")))) {
        assertArrayEquals(logits(m, false), logits(onnx, false));
      }
      // ONNX export (QDQ form) comes back into the same quantized operators, bit for bit.
      q.exportOnnx(exported.toString());
      try (Model back = Model.loadOnnx(exported.toString())) {
        assertArrayEquals(logits(q, false), logits(back, false));
      }
    } finally {
      Files.deleteIfExists(file);
      Files.deleteIfExists(exported);
      Files.delete(dir);
    }
  }

  @Test
  void namedTensorsAndTensorListRuns() {
    try (Model m = load("mlp"); Session s = new Session(m, 3);
         Tensor x = test.batch(0, 3, false); TensorList in = TensorList.of(x)) {
      s.run(in);
      try (Tensor y = s.output(0); Tensor named = s.tensor("logits")) {
        assertArrayEquals(new long[] {3, 10}, y.shape());
        assertArrayEquals(y.toF32Array(), named.toF32Array());
      }
      Q8Exception e = assertThrows(Q8Exception.class, () -> s.tensor("no such tensor"));
      assertEquals(Status.ERR_INVALID_ARGUMENT, e.getStatus());
      try (Tensor wrong = new Tensor(DType.F32, new long[] {2, 64})) {
        assertEquals(Status.ERR_SHAPE, assertThrows(Q8Exception.class, () -> s.runOne(wrong)).getStatus());
      }
    }
  }
}
