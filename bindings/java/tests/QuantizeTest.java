package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import q8.*;

/** Quantize and dequantize against the formulas of q8/quant.h, written out in Java. */
class QuantizeTest {
  /** q = clamp(round_half_even(x / scale) + zp, lo, hi), one f32 division; NaN -> zp. */
  static int quantizeRef(float x, float scale, int zp, int lo, int hi) {
    if (Float.isNaN(x))
      return zp;
    double r = Math.rint(x / scale) + zp;  // x / scale is float division; rint is half-even
    return (int) Math.max(lo, Math.min(hi, r));
  }

  static float dequantizeRef(int q, float scale, int zp) {
    return (float) (q - zp) * scale;
  }

  static float[] sample(int n, long seed) {
    Random r = new Random(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++)
      x[i] = (float) (r.nextGaussian() * 3.0);
    // Ties, exact halves, extremes and non-finite values.
    float[] special = {0f, -0f, 0.05f, -0.05f, 0.15f, 2.5f * 0.1f, 1e30f, -1e30f, Float.NaN,
                       Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 12.7f, -12.8f};
    System.arraycopy(special, 0, x, 0, special.length);
    return x;
  }

  @Test
  void quantizeS8MatchesFormula() {
    float[] x = sample(1000, 1);
    float scale = 0.1f;
    int zp = 3;
    try (Tensor xt = Tensor.fromF32(x, new long[] {10, 100});
         Tensor q = new Tensor(DType.S8, new long[] {10, 100})) {
      q.setQParams(scale, zp);
      Q8.quantize(xt, q);
      byte[] got = q.toS8Array();
      for (int i = 0; i < x.length; i++)
        assertEquals(quantizeRef(x[i], scale, zp, -128, 127), got[i], "element " + i + " = " + x[i]);
    }
  }

  @Test
  void quantizeU8PerAxisMatchesFormula() {
    float[] x = sample(4 * 50, 2);
    float[] scales = {0.05f, 0.2f, 1f, 0.013f};
    int[] zps = {0, 128, 255, 17};
    try (Tensor xt = Tensor.fromF32(x, new long[] {4, 50});
         Tensor q = new Tensor(DType.U8, new long[] {4, 50})) {
      q.setQParamsPerAxis(0, scales, zps);
      Q8.quantize(xt, q);
      byte[] got = q.toU8Array();
      for (int i = 0; i < x.length; i++) {
        int c = i / 50;
        assertEquals(quantizeRef(x[i], scales[c], zps[c], 0, 255), Byte.toUnsignedInt(got[i]), "element " + i);
      }
    }
  }

  @Test
  void dequantizeMatchesFormula() {
    byte[] q = new byte[256];
    for (int i = 0; i < 256; i++)
      q[i] = (byte) (i - 128);
    float scale = 0.0371f;
    int zp = -5;
    try (Tensor qt = Tensor.fromS8(q, new long[] {256});
         Tensor y = new Tensor(DType.F32, new long[] {256})) {
      qt.setQParams(scale, zp);
      Q8.dequantize(qt, y);
      float[] got = y.toF32Array();
      for (int i = 0; i < 256; i++)
        assertEquals(Float.floatToIntBits(dequantizeRef(q[i], scale, zp)), Float.floatToIntBits(got[i]), "q = " + q[i]);
    }
  }

  @Test
  void requantizeIsTheComposition() {
    byte[] q = {-128, -100, -1, 0, 1, 50, 127};
    try (Tensor a = Tensor.fromS8(q, new long[] {7}); Tensor b = new Tensor(DType.U8, new long[] {7})) {
      a.setQParams(0.1f, 0);
      b.setQParams(0.07f, 128);
      Q8.requantize(a, b);
      byte[] got = b.toU8Array();
      for (int i = 0; i < q.length; i++)
        assertEquals(quantizeRef(dequantizeRef(q[i], 0.1f, 0), 0.07f, 128, 0, 255), Byte.toUnsignedInt(got[i]));
    }
  }

  @Test
  void quantizeTensorUsesTheRangeOfTheData() {
    float[] x = {-1.5f, 0.25f, 3.0f, 0.7f, -0.2f, 2.2f};
    try (Tensor xt = Tensor.fromF32(x, new long[] {2, 3});
         Tensor q = Q8.quantizeTensor(xt, Scheme.ASYMMETRIC_U8, -1);
         QParams p = Q8.qparamsFromRange(Scheme.ASYMMETRIC_U8, -1.5f, 3.0f);
         Tensor back = Q8.dequantizeTensor(q)) {
      assertEquals(DType.U8, q.dtype());
      assertArrayEquals(new long[] {2, 3}, q.shape());
      assertEquals(p.getScale(), q.scale(0));
      assertEquals(p.getZeroPoint(), q.zeroPoint(0));
      byte[] got = q.toU8Array();
      float[] y = back.toF32Array();
      for (int i = 0; i < x.length; i++) {
        int want = quantizeRef(x[i], p.getScale(), p.getZeroPoint(), 0, 255);
        assertEquals(want, Byte.toUnsignedInt(got[i]));
        assertEquals(dequantizeRef(want, p.getScale(), p.getZeroPoint()), y[i]);
        assertTrue(Math.abs(y[i] - x[i]) <= p.getScale() / 2 + 1e-6f, "error within half a step");
      }
    }
  }

  @Test
  void symmetricPerChannelQuantizeTensor() {
    float[] w = {1f, -2f, 0.5f, 0.1f, 0.2f, -0.4f};
    try (Tensor wt = Tensor.fromF32(w, new long[] {2, 3});
         Tensor q = Q8.quantizeTensor(wt, Scheme.SYMMETRIC_NARROW, 0)) {
      assertEquals(DType.S8, q.dtype());
      assertEquals(2, q.qparamsCount());
      assertEquals(2f / 127f, q.scale(0), 1e-8f);
      assertEquals(0.4f / 127f, q.scale(1), 1e-8f);
      byte[] got = q.toS8Array();
      assertEquals(-127, got[1]);
      assertEquals(-127, got[5]);
    }
  }

  @Test
  void observerOverBatches() {
    try (Observer obs = new Observer(ObserverKind.MINMAX, Scheme.ASYMMETRIC_U8, -1);
         Tensor b1 = Tensor.fromF32(new float[] {-0.5f, 1f, 2f}, new long[] {3});
         Tensor b2 = Tensor.fromF32(new float[] {-1f, 0.5f, 4f}, new long[] {3});
         QParams p = Q8.qparamsFromRange(Scheme.ASYMMETRIC_U8, -1f, 4f);
         Tensor q = new Tensor(DType.U8, new long[] {3})) {
      obs.update(b1);
      obs.update(b2);
      assertEquals(1, obs.channels());
      assertEquals(-1f, obs.minValue(0));
      assertEquals(4f, obs.maxValue(0));
      assertEquals(p.getScale(), obs.scale(0));
      assertEquals(p.getZeroPoint(), obs.zeroPoint(0));
      obs.apply(q);
      assertEquals(p.getScale(), q.scale(0));
      obs.reset();
      obs.update(b1);
      assertEquals(2f, obs.maxValue(0));
    }
  }

  @Test
  void observerFromOptionsPerChannel() {
    try (ObserverOptions o = new ObserverOptions()) {
      o.setKind(ObserverKind.MINMAX);
      o.setScheme(Scheme.SYMMETRIC_NARROW);
      o.setAxis(0);
      try (Observer obs = new Observer(o);
           Tensor w = Tensor.fromF32(new float[] {1f, -3f, 0.5f, 0.25f}, new long[] {2, 2})) {
        obs.update(w);
        assertEquals(2, obs.channels());
        assertEquals(3f / 127f, obs.scale(0), 1e-8f);
        assertEquals(0.5f / 127f, obs.scale(1), 1e-8f);
      }
    }
  }

  @Test
  void dynamicQuantizeU8ArraysAndDirectBuffers() {
    float[] x = {-1f, 0f, 0.3f, 2f, 5.5f, -0.7f};
    byte[] q = new byte[x.length];
    try (QParams p = Q8.dynamicQuantizeU8(x, q)) {
      for (int i = 0; i < x.length; i++)
        assertEquals(quantizeRef(x[i], p.getScale(), p.getZeroPoint(), 0, 255), Byte.toUnsignedInt(q[i]));
      FloatBuffer xb = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      xb.put(x).flip();
      ByteBuffer qb = ByteBuffer.allocateDirect(x.length);
      try (QParams p2 = Q8.dynamicQuantizeU8(xb, qb)) {
        assertEquals(p.getScale(), p2.getScale());
        for (int i = 0; i < x.length; i++)
          assertEquals(q[i], qb.get(i));
      }
    }
  }

  @Test
  void quantizeThroughDirectBuffers() {
    float[] x = sample(64, 3);
    FloatBuffer xb = ByteBuffer.allocateDirect(64 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    xb.put(x).flip();
    ByteBuffer out = ByteBuffer.allocateDirect(64);
    try (Tensor xt = new Tensor(DType.F32, new long[] {64}); Tensor q = new Tensor(DType.S8, new long[] {64})) {
      xt.copyFromF32(xb);
      q.setQParams(0.05f, 0);
      Q8.quantize(xt, q);
      q.copyToS8(out);
      for (int i = 0; i < 64; i++)
        assertEquals(quantizeRef(x[i], 0.05f, 0, -128, 127), out.get(i));
    }
  }
}
