package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import q8.*;

/** Fixed point against CMSIS-DSP / gemmlowp semantics written out in Java (docs/FIXED_POINT.md). */
class FixedTest {
  static short sat16(long v) {
    return (short) Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, v));
  }

  @Test
  void q15ConversionsTruncateAndSaturate() {
    float[] x = {0f, 0.5f, -0.5f, 0.99999f, -1f, 1f, 2f, -3f, 1e-5f, -1e-5f, Float.NaN, 0.123456f};
    short[] q = new short[x.length];
    Q8.fixedFromF32S16(x, q, 15, Rounding.TOWARD_ZERO);
    for (int i = 0; i < x.length; i++) {
      long want = Float.isNaN(x[i]) ? 0 : (long) ((double) x[i] * 32768.0);  // (long) truncates
      assertEquals(sat16(want), q[i], "x = " + x[i]);
    }
    float[] back = new float[x.length];
    Q8.fixedToF32S16(q, back, 15);
    for (int i = 0; i < x.length; i++)
      assertEquals(q[i] / 32768f, back[i]);
    Q8.fixedFromF32S16(new float[] {0.5f / 32768f * 3}, q = new short[1], 15, Rounding.NEAREST_EVEN);
    assertEquals(2, q[0], "1.5 LSB rounds to even");
  }

  @Test
  void q7AndQ31Conversions() {
    byte[] q7 = new byte[3];
    Q8.fixedFromF32S8(new float[] {0.5f, -1f, 0.99f}, q7, 7, Rounding.TOWARD_ZERO);
    assertArrayEquals(new byte[] {64, -128, 126}, q7);
    int[] q31 = new int[2];
    Q8.fixedFromF32S32(new float[] {0.25f, -0.5f}, q31, 31, Rounding.TOWARD_ZERO);
    assertArrayEquals(new int[] {1 << 29, -(1 << 30)}, q31);
    float[] f = new float[2];
    Q8.fixedToF32S32(q31, f, 31);
    assertArrayEquals(new float[] {0.25f, -0.5f}, f);
    float[] g = new float[3];
    Q8.fixedToF32S8(q7, g, 7);
    assertEquals(-1f, g[1]);
  }

  @Test
  void saturatingArithmeticMatchesReference() {
    Random r = new Random(5);
    int n = 300;
    short[] a = new short[n], b = new short[n], sum = new short[n], prod = new short[n];
    for (int i = 0; i < n; i++) {
      a[i] = (short) r.nextInt();
      b[i] = (short) r.nextInt();
    }
    a[0] = b[0] = Short.MIN_VALUE;  // the one product that saturates
    Q8.fixedAddQ15(a, b, sum);
    Q8.fixedMultQ15(a, b, prod);
    long dot = 0;
    for (int i = 0; i < n; i++) {
      assertEquals(sat16((long) a[i] + b[i]), sum[i]);
      assertEquals(sat16(((long) a[i] * b[i]) >> 15), prod[i], "arm_mult_q15 " + a[i] + " * " + b[i]);
      dot += (long) a[i] * b[i];
    }
    assertEquals(dot, Q8.fixedDotProdQ15(a, b));

    byte[] x = {127, -128, 100, -100}, y = {1, -1, 100, 27}, s = new byte[4], p = new byte[4];
    Q8.fixedAddQ7(x, y, s);
    assertArrayEquals(new byte[] {127, -128, 127, -73}, s);
    Q8.fixedMultQ7(x, y, p);
    assertArrayEquals(new byte[] {0, 1, 78, -22}, p);  // (x * y) >> 7, floor

    int[] u = {Integer.MAX_VALUE, Integer.MIN_VALUE, 5}, v = {1, -1, -7}, w = new int[3];
    Q8.fixedAddQ31(u, v, w);
    assertArrayEquals(new int[] {Integer.MAX_VALUE, Integer.MIN_VALUE, -2}, w);
    Q8.fixedMultQ31(new int[] {Integer.MIN_VALUE, 1 << 30}, new int[] {Integer.MIN_VALUE, 1 << 30}, w = new int[2]);
    assertArrayEquals(new int[] {Integer.MAX_VALUE, 1 << 29}, w);
  }

  @Test
  void scalarFormsAndWideAccumulators() {
    assertEquals(127, Q8.fixedAddQ7Scalar((byte) 100, (byte) 100));
    assertEquals(Short.MAX_VALUE, Q8.fixedNegateQ15Scalar(Short.MIN_VALUE));
    assertEquals(Short.MAX_VALUE, Q8.fixedAbsQ15Scalar(Short.MIN_VALUE));
    // int64 accumulators are Java longs: nothing is cut to 32 bits.
    long acc = 1L << 40;
    assertEquals(acc + (long) Short.MAX_VALUE * Short.MAX_VALUE,
                 Q8.fixedMacQ15Scalar(acc, Short.MAX_VALUE, Short.MAX_VALUE));
  }

  /** gemmlowp SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, written out. */
  static int srdhm(int a, int b) {
    if (a == Integer.MIN_VALUE && b == Integer.MIN_VALUE)
      return Integer.MAX_VALUE;
    return (int) Math.floorDiv((long) a * b + (1L << 30), 1L << 31);
  }

  static int rdbp(int x, int e) {
    if (e == 0)
      return x;
    long mask = (1L << e) - 1, rem = x & mask, thr = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> e) + (rem > thr ? 1 : 0);
  }

  @Test
  void requantizationPrimitives() {
    Random r = new Random(6);
    for (int i = 0; i < 2000; i++) {
      int a = r.nextInt(), b = r.nextInt(), e = r.nextInt(32);
      assertEquals(srdhm(a, b), Q8.fixedSatRoundingDoublingHighMul(a, b));
      assertEquals(rdbp(a, e), Q8.fixedRoundingDivideByPot(a, e), a + " / 2^" + e);
    }
    assertEquals(Integer.MAX_VALUE, Q8.fixedSatRoundingDoublingHighMul(Integer.MIN_VALUE, Integer.MIN_VALUE));
    try (Multiplier m = Q8.fixedQuantizeMultiplier(0.5)) {
      assertEquals(1 << 30, m.getMultiplier());
      assertEquals(0, m.getShift());
      assertEquals(50, Q8.fixedMultiplyByQuantizedMultiplier(100, m.getMultiplier(), m.getShift()));
    }
    try (Multiplier m = Q8.fixedQuantizeMultiplier(0.25)) {
      assertEquals(1 << 30, m.getMultiplier());
      assertEquals(-1, m.getShift());
      assertEquals(-25, Q8.fixedMultiplyByQuantizedMultiplier(-100, m.getMultiplier(), m.getShift()));
    }
    int half = Q8.fixedLogistic(0, 4);
    assertTrue(Math.abs(half - (1 << 30)) <= 2, "logistic(0) = 0.5 in Q0.31, got " + half);
  }
}
