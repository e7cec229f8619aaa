package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;
import q8.*;

/** INT8 GEMM against a plain Java reference in long arithmetic: the bits must be equal. */
class GemmTest {
  static final int[][] SHAPES = {  // m, n, k: edges of the kernels' tiles and panels
      {1, 1, 1}, {1, 32, 4}, {3, 5, 7}, {6, 64, 3}, {7, 33, 17}, {8, 31, 64}, {9, 65, 129},
      {13, 96, 512}, {33, 17, 1000}, {64, 64, 64}, {0, 5, 3}, {4, 0, 3}, {4, 5, 0}};

  static byte[] bytes(Random r, int n) {
    byte[] b = new byte[n];
    r.nextBytes(b);
    return b;
  }

  static int[] ints(Random r, int n, int bound) {
    int[] v = new int[n];
    for (int i = 0; i < n; i++)
      v[i] = r.nextInt(2 * bound + 1) - bound;
    return v;
  }

  /** sum_k (A[i,k] - za) (B[k,j] - zb) + bias[j], with A unsigned when aUnsigned; B stored [n, k]
   * when bT. Exact in long, then wrapped to int as q8 defines. */
  static int[] reference(int m, int n, int k, byte[] a, boolean aUnsigned, int za, byte[] b, boolean bT,
                         int zb, int[] bias) {
    int[] c = new int[m * n];
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        long acc = 0;
        for (int p = 0; p < k; p++) {
          int av = aUnsigned ? Byte.toUnsignedInt(a[i * k + p]) : a[i * k + p];
          int bv = bT ? b[j * k + p] : b[p * n + j];
          acc += (long) (av - za) * (bv - zb);
        }
        if (bias != null && bias.length > 0)
          acc += bias[j];
        c[i * n + j] = (int) acc;
      }
    return c;
  }

  @Test
  void u8s8MatchesReference() {
    Random r = new Random(7);
    for (int[] s : SHAPES)
      for (boolean bT : new boolean[] {false, true}) {
        int m = s[0], n = s[1], k = s[2];
        byte[] a = bytes(r, m * k), b = bytes(r, k * n);
        int za = r.nextInt(256), zb = r.nextInt(256) - 128;
        int[] bias = ints(r, n, 100000);
        int[] c = new int[m * n];
        Q8.gemmU8s8S32(m, n, k, a, za, b, bT, zb, bias, c);
        assertArrayEquals(reference(m, n, k, a, true, za, b, bT, zb, bias), c,
                          "u8s8 m=" + m + " n=" + n + " k=" + k + " bT=" + bT);
        Q8.gemmU8s8S32(m, n, k, a, za, b, bT, zb, null, c);
        assertArrayEquals(reference(m, n, k, a, true, za, b, bT, zb, null), c, "without bias");
      }
  }

  @Test
  void s8s8MatchesReference() {
    Random r = new Random(8);
    for (int[] s : SHAPES)
      for (boolean bT : new boolean[] {false, true}) {
        int m = s[0], n = s[1], k = s[2];
        byte[] a = bytes(r, m * k), b = bytes(r, k * n);
        int za = r.nextInt(256) - 128, zb = r.nextInt(256) - 128;
        int[] bias = ints(r, n, 1000);
        int[] c = new int[m * n];
        Q8.gemmS8s8S32(m, n, k, a, za, b, bT, zb, bias, c);
        assertArrayEquals(reference(m, n, k, a, false, za, b, bT, zb, bias), c,
                          "s8s8 m=" + m + " n=" + n + " k=" + k + " bT=" + bT);
      }
  }

  @Test
  void extremeValuesAreExact() {
    int m = 5, n = 40, k = 300;
    byte[] a = new byte[m * k], b = new byte[k * n];
    java.util.Arrays.fill(a, (byte) 255);
    java.util.Arrays.fill(b, (byte) -128);
    int[] c = new int[m * n];
    Q8.gemmU8s8S32(m, n, k, a, 0, b, false, 127, null, c);
    assertArrayEquals(reference(m, n, k, a, true, 0, b, false, 127, null), c);
    assertEquals(255L * -255L * k, c[0]);
  }

  @Test
  void dequantizingEpilogueIsBitExact() {
    Random r = new Random(9);
    int m = 11, n = 37, k = 70;
    byte[] a = bytes(r, m * k), b = bytes(r, n * k);
    int[] bias = ints(r, n, 5000);
    float[] scales = new float[n];
    for (int j = 0; j < n; j++)
      scales[j] = 1e-4f * (j + 1);
    float[] c = new float[m * n];
    Q8.gemmU8s8F32(m, n, k, a, 128, b, true, 0, bias, scales, c);
    int[] acc = reference(m, n, k, a, true, 128, b, true, 0, bias);
    for (int i = 0; i < m * n; i++)
      assertEquals(Float.floatToIntBits((float) acc[i] * scales[i % n]), Float.floatToIntBits(c[i]), "element " + i);
    // One scale for all columns.
    Q8.gemmU8s8F32(m, n, k, a, 128, b, true, 0, null, new float[] {0.5f}, c);
    int[] plain = reference(m, n, k, a, true, 128, b, true, 0, null);
    for (int i = 0; i < m * n; i++)
      assertEquals((float) plain[i] * 0.5f, c[i]);
  }

  @Test
  void packedMatchesUnpacked() {
    Random r = new Random(10);
    int n = 45, k = 67;
    byte[] w = bytes(r, n * k);
    try (PackedMatrix p = new PackedMatrix(k, n, w, true, new int[] {3})) {
      assertEquals(k, p.k());
      assertEquals(n, p.n());
      for (int m : new int[] {1, 4, 8, 9, 50}) {
        byte[] a = bytes(r, m * k);
        int[] bias = ints(r, n, 100);
        int[] want = new int[m * n], got = new int[m * n];
        Q8.gemmU8s8S32(m, n, k, a, 77, w, true, 3, bias, want);
        p.multiplyS32(m, a, 77, bias, got);
        assertArrayEquals(want, got, "m = " + m);
        float[] f = new float[m * n];
        p.multiplyF32(m, a, 77, bias, new float[] {0.25f}, f);
        for (int i = 0; i < m * n; i++)
          assertEquals((float) want[i] * 0.25f, f[i]);
      }
    }
  }

  static ByteBuffer direct(byte[] v) {
    ByteBuffer b = ByteBuffer.allocateDirect(v.length);
    b.put(v).flip();
    return b;
  }

  static IntBuffer directInts(int n) {
    return ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asIntBuffer();
  }

  @Test
  void directBuffersGiveTheSameBits() {
    Random r = new Random(11);
    int m = 9, n = 33, k = 20;
    byte[] a = bytes(r, m * k), b = bytes(r, k * n);
    int[] bias = ints(r, n, 1000);
    int[] want = new int[m * n];
    Q8.gemmU8s8S32(m, n, k, a, 5, b, false, -2, bias, want);
    IntBuffer biasBuf = directInts(n);
    biasBuf.put(bias).flip();
    IntBuffer c = directInts(m * n);
    Q8.gemmU8s8S32(m, n, k, direct(a), 5, direct(b), false, -2, biasBuf, c);
    assertArrayEquals(want, toArray(c));
    assertEquals(0, c.position(), "C is written in place; its position does not move");

    Q8.gemmS8s8S32(m, n, k, direct(a), 5, direct(b), false, -2, null, c);
    assertArrayEquals(reference(m, n, k, a, false, 5, b, false, -2, null), toArray(c));

    // A slice: position and limit select the elements C sees.
    ByteBuffer padded = ByteBuffer.allocateDirect(m * k + 10);
    padded.position(10);
    padded.put(a).position(10);
    Q8.gemmU8s8S32(m, n, k, padded, 5, direct(b), false, -2, biasBuf, c);
    assertArrayEquals(want, toArray(c));

    try (PackedMatrix p = new PackedMatrix(k, n, b, false, null)) {
      p.multiplyS32(m, direct(a), 5, null, c);
      assertArrayEquals(reference(m, n, k, a, true, 5, b, false, 0, null), toArray(c));
    }
  }

  static int[] toArray(IntBuffer b) {
    int[] v = new int[b.capacity()];
    IntBuffer d = b.duplicate();
    d.clear();
    d.get(v);
    return v;
  }

  @Test
  void bufferMisuseIsRefused() {
    int m = 2, n = 2, k = 2;
    ByteBuffer a = direct(new byte[4]), b = direct(new byte[4]);
    IntBuffer heap = IntBuffer.allocate(4);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Q8.gemmU8s8S32(m, n, k, a, 0, b, false, 0, null, heap));
    assertTrue(e.getMessage().contains("heap"), e.getMessage());
    ByteOrder other = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    IntBuffer swapped = ByteBuffer.allocateDirect(16).order(other).asIntBuffer();
    assertThrows(IllegalArgumentException.class, () -> Q8.gemmU8s8S32(m, n, k, a, 0, b, false, 0, null, swapped));
    IntBuffer readOnly = directInts(4).asReadOnlyBuffer();
    assertThrows(java.nio.ReadOnlyBufferException.class,
        () -> Q8.gemmU8s8S32(m, n, k, a, 0, b, false, 0, null, readOnly));
    // Too short for C: q8 names the operand, nothing is written.
    IntBuffer small = directInts(3);
    Q8Exception q = assertThrows(Q8Exception.class, () -> Q8.gemmU8s8S32(m, n, k, a, 0, b, false, 0, null, small));
    assertEquals(Status.ERR_SHAPE, q.getStatus());
  }

  @Test
  void f32ReferenceGemm() {
    Random r = new Random(12);
    int m = 7, n = 9, k = 13;
    float[] a = new float[m * k], b = new float[n * k], c = new float[m * n];
    for (int i = 0; i < a.length; i++)
      a[i] = (float) r.nextGaussian();
    for (int i = 0; i < b.length; i++)
      b[i] = (float) r.nextGaussian();
    Q8.gemmF32(m, n, k, a, b, true, c);
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++) {
        double s = 0, mag = 0;
        for (int p = 0; p < k; p++) {
          s += (double) a[i * k + p] * b[j * k + p];
          mag += Math.abs((double) a[i * k + p] * b[j * k + p]);
        }
        assertEquals(s, c[i * n + j], 1e-6 * k * mag + 1e-30);
      }
    FloatBuffer fa = ByteBuffer.allocateDirect(a.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(a);
    FloatBuffer fb = ByteBuffer.allocateDirect(b.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(b);
    FloatBuffer fc = ByteBuffer.allocateDirect(c.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    Q8.gemmF32(m, n, k, fa.flip(), fb.flip(), true, fc);
    float[] c2 = new float[m * n];
    fc.get(c2);
    assertArrayEquals(c, c2);
  }

  @Test
  void dynamicLinearLayer() {
    Random r = new Random(13);
    int out = 24, in = 40, rows = 5;
    float[] w = new float[out * in], bias = new float[out], x = new float[rows * in];
    for (int i = 0; i < w.length; i++)
      w[i] = (float) r.nextGaussian() * 0.1f;
    for (int i = 0; i < out; i++)
      bias[i] = (float) r.nextGaussian();
    for (int i = 0; i < x.length; i++)
      x[i] = (float) r.nextGaussian();
    try (DynamicLinear layer = new DynamicLinear(out, in, w, bias)) {
      assertEquals(in, layer.inFeatures());
      assertEquals(out, layer.outFeatures());
      assertTrue(layer.weightBytes() < 4L * out * in / 3, "INT8 weights: " + layer.weightBytes() + " bytes");
      float[] y = new float[rows * out];
      layer.forward(rows, x, y);
      byte[] wq = new byte[out * in];
      float[] ws = new float[out];
      layer.weights(wq);
      layer.weightScales(ws);
      for (int o = 0; o < out; o++) {
        float max = 0;
        for (int i = 0; i < in; i++)
          max = Math.max(max, Math.abs(w[o * in + i]));
        assertEquals(max / 127f, ws[o], 1e-8f);
      }
      for (int i = 0; i < rows; i++)
        for (int o = 0; o < out; o++) {
          double s = bias[o];
          for (int p = 0; p < in; p++)
            s += (double) x[i * in + p] * w[o * in + p];
          assertEquals(s, y[i * out + o], 0.05, "row " + i + " feature " + o);
        }
      FloatBuffer xb = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer().put(x);
      FloatBuffer yb = ByteBuffer.allocateDirect(y.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      layer.forward(rows, xb.flip(), yb);
      float[] y2 = new float[y.length];
      yb.get(y2);
      assertArrayEquals(y, y2);
    }
  }
}
