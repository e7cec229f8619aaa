// Quantize a layer's weights and activations to INT8 and run the product as an INT8 GEMM, then
// compare with the FP32 product. Run by `meson test --suite examples`.
//   javac -cp q8.jar QuantizeAndGemm.java && java -cp q8.jar:. -Djava.library.path=DIR QuantizeAndGemm
import java.util.Random;
import q8.*;

public class QuantizeAndGemm {
  public static void main(String[] args) {
    final int m = 16, k = 256, n = 64;  // activations [m, k], weights [n, k] (a Linear layer)
    Random rnd = new Random(42);
    float[] x = new float[m * k], w = new float[n * k];
    for (int i = 0; i < x.length; i++)
      x[i] = (float) Math.max(0.0, rnd.nextGaussian());  // post-ReLU activations
    for (int i = 0; i < w.length; i++)
      w[i] = (float) (rnd.nextGaussian() * 0.05);

    float[] ref = new float[m * n];
    Q8.gemmF32(m, n, k, x, w, true, ref);

    float[] y = new float[m * n];
    try (Tensor xt = Tensor.fromF32(x, new long[] {m, k});
         Tensor wt = Tensor.fromF32(w, new long[] {n, k});
         Tensor xq = Q8.quantizeTensor(xt, Scheme.ASYMMETRIC_U8, -1);  // u8, one scale
         Tensor wq = Q8.quantizeTensor(wt, Scheme.SYMMETRIC_NARROW, 0)) {  // s8, one scale per row
      float[] scales = new float[n];  // C = acc * scale_x * scale_w[j]
      for (int j = 0; j < n; j++)
        scales[j] = xq.scale(0) * wq.scale(j);
      System.out.println("activations " + xq + " scale " + xq.scale(0) + " zero point " + xq.zeroPoint(0));
      System.out.println("weights     " + wq + ", " + wq.qparamsCount() + " scales");

      byte[] a = xq.toU8Array(), b = wq.toS8Array();
      Q8.gemmU8s8F32(m, n, k, a, xq.zeroPoint(0), b, true, 0, null, scales, y);

      // The same weights packed once, for many calls.
      try (PackedMatrix packed = new PackedMatrix(k, n, b, true, null)) {
        float[] y2 = new float[m * n];
        packed.multiplyF32(m, a, xq.zeroPoint(0), null, scales, y2);
        if (!java.util.Arrays.equals(y, y2))
          throw new AssertionError("packed and unpacked GEMM differ");
      }
    }

    double err = 0, mag = 0;
    for (int i = 0; i < y.length; i++) {
      err = Math.max(err, Math.abs(y[i] - ref[i]));
      mag = Math.max(mag, Math.abs(ref[i]));
    }
    System.out.printf("INT8 GEMM %dx%dx%d: max |error| %.5f for outputs up to %.3f (%.2f%%)%n",
                      m, k, n, err, mag, 100 * err / mag);
    if (err > 0.02 * mag)
      throw new AssertionError("INT8 result too far from FP32");
    if (Q8.liveHandles() != 0)
      throw new AssertionError("handles left open: " + Q8.liveHandles());
  }
}
