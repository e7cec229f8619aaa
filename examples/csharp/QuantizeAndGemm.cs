// Quantize a Linear layer's weights (s8, one scale per output feature) and a batch of activations
// (u8, one scale), multiply them with q8's INT8 GEMM and compare with the FP32 product.
// Build: mcs -r:q8cs.dll QuantizeAndGemm.cs; run: mono QuantizeAndGemm.exe (libq8cs.so beside it).
using System;
using Q8;

static class QuantizeAndGemm {
  static int Main() {
    const int M = 8, K = 256, N = 32;  // activations [M, K], weights [N, K]
    var rng = new Random(7);
    var x = new float[M * K];
    var w = new float[N * K];
    for (int i = 0; i < x.Length; ++i) x[i] = (float)rng.NextDouble() * 4 - 1;
    for (int i = 0; i < w.Length; ++i) w[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;

    using (var xt = Tensor.FromF32(x, M, K))
    using (var wt = Tensor.FromF32(w, N, K))
    using (var xq = Api.QuantizeTensor(xt, Scheme.AsymmetricU8, -1))      // u8, per tensor
    using (var wq = Api.QuantizeTensor(wt, Scheme.SymmetricNarrow, 0)) {  // s8, per row
      Console.WriteLine("x: " + xq + " scale " + xq.Scale(0) + " zero point " + xq.ZeroPoint(0));
      Console.WriteLine("w: " + wq + " scales " + wq.Scale(0) + " ... " + wq.Scale(N - 1));

      // y = (xq - zx) wq^T * (sx * sw[j]): INT8 products, int32 sums, one f32 multiply each.
      var scales = new float[N];
      for (int j = 0; j < N; ++j) scales[j] = xq.Scale(0) * wq.Scale(j);
      byte[] a = xq.ToU8Array();
      sbyte[] b = wq.ToS8Array();
      var y = new float[M * N];
      Api.GemmU8s8F32(M, N, K, a, xq.ZeroPoint(0), b, true, 0, null, scales, y);

      // Weights used many times: pack them once.
      var y2 = new float[M * N];
      using (var packed = new PackedMatrix(K, N, b, true, null))
        packed.MultiplyF32(M, a, xq.ZeroPoint(0), null, scales, y2);

      var reference = new float[M * N];
      Api.GemmF32(M, N, K, x, w, true, reference);  // FP32 (OpenBLAS)
      double err = 0, norm = 0;
      bool same = true;
      for (int i = 0; i < y.Length; ++i) {
        err = Math.Max(err, Math.Abs(y[i] - reference[i]));
        norm = Math.Max(norm, Math.Abs(reference[i]));
        same &= y[i] == y2[i];
      }
      Console.WriteLine("INT8 vs FP32: max |error| " + err.ToString("G3") + " of max |y| " + norm.ToString("G3")
                        + "; packed == unpacked: " + same);
      bool ok = err <= 0.02 * norm && same;
      Console.WriteLine(ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
      return ok ? 0 : 1;
    }
  }
}
