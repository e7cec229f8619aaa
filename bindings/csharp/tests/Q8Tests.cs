// Tests of the C# binding (q8cs.dll), a plain assertion program run with mono by `meson test`:
// each test is a method; an exception fails it; the last line is "N passed, N failed" and the exit
// code is 1 if anything failed. Needs Q8_TEST_DATA (tests/data) for the model tests.
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Q8;

static partial class Q8Tests {
  // ---- harness ---------------------------------------------------------------------------------

  static int passed, failed;

  static void Run(string name, Action test) {
    try {
      test();
      ++passed;
      Console.WriteLine("PASS " + name);
    } catch (Exception e) {
      ++failed;
      Console.WriteLine("FAIL " + name + ": " + e);
    }
  }

  static void Check(bool ok, string what) {
    if (!ok) throw new Exception("check failed: " + what);
  }

  static void Equal<T>(T want, T got, string what) {
    if (!EqualityComparer<T>.Default.Equals(want, got))
      throw new Exception(what + ": expected " + want + ", got " + got);
  }

  static void SameArrays<T>(T[] want, T[] got, string what) {
    Equal(want.Length, got.Length, what + " length");
    for (int i = 0; i < want.Length; ++i)
      if (!EqualityComparer<T>.Default.Equals(want[i], got[i]))
        throw new Exception(what + "[" + i + "]: expected " + want[i] + ", got " + got[i]);
  }

  static E Throws<E>(Action call, string what) where E : Exception {
    try {
      call();
    } catch (E e) {
      return e;
    } catch (Exception e) {
      throw new Exception(what + ": expected " + typeof(E).Name + ", got " + e.GetType().Name + ": " + e.Message);
    }
    throw new Exception(what + ": expected " + typeof(E).Name + ", nothing was thrown");
  }

  // A q8 failure: the status, and a message that is q8_status_string + q8_last_error().
  static Q8Exception Fails(Status status, Action call, string what) {
    var e = Throws<Q8Exception>(call, what);
    Equal(status, e.Status, what + " status");
    Check(e.Message.StartsWith(Api.StatusString(status) + ": "), what + ": message '" + e.Message + "' names the status");
    Check(e.Message.Length > Api.StatusString(status).Length + 2, what + ": message has q8's explanation");
    return e;
  }

  // ---- references --------------------------------------------------------------------------------

  // ONNX QuantizeLinear: one f32 division, round half to even, saturate; NaN -> zp, +-Inf -> ends.
  static int QuantizeRef(float x, float scale, int zp, int qmin, int qmax) {
    if (float.IsNaN(x)) return zp;
    if (float.IsPositiveInfinity(x)) return qmax;
    if (float.IsNegativeInfinity(x)) return qmin;
    float q = x / scale;
    double r = Math.Round((double)q, MidpointRounding.ToEven) + zp;
    return (int)Math.Max(qmin, Math.Min(qmax, r));
  }

  static long[] GemmRef(int m, int n, int k, Func<int, int, int> a, Func<int, int, int> b, int[] bias) {
    var c = new long[m * n];
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        long acc = bias.Length > 0 ? bias[j] : 0;
        for (int p = 0; p < k; ++p) acc += (long)a(i, p) * b(p, j);
        c[i * n + j] = acc;
      }
    return c;
  }

  static int SaturateInt(long v, int lo, int hi) {
    return (int)Math.Max(lo, Math.Min(hi, v));
  }

  static readonly Random rng = new Random(20261122);

  static byte[] RandomU8(int n) { var a = new byte[n]; rng.NextBytes(a); return a; }
  static sbyte[] RandomS8(int n) { var a = new sbyte[n]; for (int i = 0; i < n; ++i) a[i] = (sbyte)rng.Next(-128, 128); return a; }
  static int[] RandomS32(int n, int lo, int hi) { var a = new int[n]; for (int i = 0; i < n; ++i) a[i] = rng.Next(lo, hi); return a; }
  static float[] RandomF32(int n, float lo, float hi) {
    var a = new float[n];
    for (int i = 0; i < n; ++i) a[i] = (float)(lo + (hi - lo) * rng.NextDouble());
    return a;
  }

  // ---- tensors -----------------------------------------------------------------------------------

  static void Create() {
    using (var t = new Tensor(DType.F32, 2, 3)) {
      Equal(DType.F32, t.DType(), "dtype");
      Equal(2L, t.Rank(), "rank");
      SameArrays(new long[] {2, 3}, t.Shape, "shape");
      Equal(6L, t.Numel(), "numel");
      Equal(24L, t.Nbytes(), "nbytes");
      SameArrays(new float[6], t.ToF32Array(), "zero-filled");
      Equal("Tensor(f32, [2, 3])", t.ToString(), "ToString");
    }
    var data = new float[] {1.5f, -2, 3, 0.25f, 5, -6};
    using (var t = Tensor.FromF32(data, 3, 2))
    using (var c = t.Clone()) {
      SameArrays(data, t.ToF32Array(), "FromF32 round trip");
      data[0] = 99;  // FromF32 copied: the tensor does not see the array change
      Equal(1.5f, t.ToF32Array()[0], "copied in");
      c.CopyFromF32(new float[] {6, 5, 4, 3, 2, 1});
      Equal(1.5f, t.ToF32Array()[0], "clone is independent");
      c.Reshape(6);
      SameArrays(new long[] {6}, c.Shape, "reshaped");
      Equal(0L, t.QparamsCount(), "no qparams yet");
    }
    using (var s = new Tensor(DType.S32)) {  // rank 0: one element
      Equal(0L, s.Rank(), "scalar rank");
      Equal(1L, s.Numel(), "scalar numel");
      s.CopyFromS32(new[] {-7});
      Equal(-7, s.ToS32Array()[0], "scalar value");
    }
    using (var e = new Tensor(DType.U8, 0, 4)) {
      Equal(0L, e.Numel(), "empty numel");
      Equal(0, e.ToU8Array().Length, "empty array");
    }
    using (var u = Tensor.FromU8(new byte[] {0, 128, 255}, 3))
      SameArrays(new byte[] {0, 128, 255}, u.ToU8Array(), "u8 round trip");
    using (var b = Tensor.FromS8(new sbyte[] {-128, 0, 127}, 1, 3))
      SameArrays(new sbyte[] {-128, 0, 127}, b.ToS8Array(), "s8 round trip");
  }

  // Spans: a slice of a larger array is read and written in place, its neighbours untouched.
  static void Spans() {
    var big = new float[] {-1, 10, 20, 30, 40, -1};
    using (var t = Tensor.FromF32(new ReadOnlySpan<float>(big, 1, 4), 2, 2)) {
      SameArrays(new float[] {10, 20, 30, 40}, t.ToF32Array(), "from a slice");
      var dst = new float[] {7, 7, 7, 7, 7, 7, 7};
      t.CopyToF32(new Span<float>(dst, 2, 4));
      SameArrays(new float[] {7, 7, 10, 20, 30, 40, 7}, dst, "into a slice");
    }
    var acc = new int[] {5, 5, 5, 5};
    Api.FixedAddQ31(new int[] {1, 2}, new int[] {10, 20}, new Span<int>(acc, 1, 2));
    SameArrays(new int[] {5, 11, 22, 5}, acc, "fixed-point output slice");
  }

  // ---- quantization ------------------------------------------------------------------------------

  static void Quantize() {
    var x = RandomF32(1000, -3, 5);
    x[0] = float.NaN; x[1] = float.PositiveInfinity; x[2] = float.NegativeInfinity;
    x[3] = 0.5f * 0.03125f; x[4] = 1.5f * 0.03125f; x[5] = -2.5f * 0.03125f;  // exact ties
    x[6] = 1e9f; x[7] = -1e9f;
    using (var xt = Tensor.FromF32(x, 10, 100))
    using (var q = new Tensor(DType.S8, 10, 100))
    using (var u = new Tensor(DType.U8, 10, 100)) {
      q.SetQParams(0.03125f, -3);
      Api.Quantize(xt, q);
      var got = q.ToS8Array();
      for (int i = 0; i < x.Length; ++i)
        Equal(QuantizeRef(x[i], 0.03125f, -3, -128, 127), (int)got[i], "s8 element " + i);
      Api.TensorSetQparams(u, 0.0271f, 100);  // the raw C call
      Api.Quantize(xt, u);
      var gu = u.ToU8Array();
      for (int i = 0; i < x.Length; ++i)
        Equal(QuantizeRef(x[i], 0.0271f, 100, 0, 255), (int)gu[i], "u8 element " + i);
      Equal(1L, u.QparamsCount(), "per tensor");
      Equal(-1, u.QparamsAxis(), "per tensor axis");
      Equal(0.0271f, u.Scale(0), "scale");
      Equal(100, u.ZeroPoint(0), "zero point");
    }
    // Per axis: one scale and zero point per row.
    var w = RandomF32(4 * 8, -1, 1);
    var scales = new float[] {0.01f, 0.02f, 0.005f, 0.1f};
    var zps = new int[] {0, -5, 7, 1};
    using (var wt = Tensor.FromF32(w, 4, 8))
    using (var wq = new Tensor(DType.S8, 4, 8)) {
      wq.SetQParamsPerAxis(0, scales, zps);
      Equal(4L, wq.QparamsCount(), "per axis count");
      Equal(0, wq.QparamsAxis(), "per axis axis");
      Api.Quantize(wt, wq);
      var got = wq.ToS8Array();
      for (int i = 0; i < w.Length; ++i)
        Equal(QuantizeRef(w[i], scales[i / 8], zps[i / 8], -128, 127), (int)got[i], "per-axis element " + i);
    }
    // The facade's one-call form: symmetric narrow per row, scale = max|w| / 127.
    using (var wt = Tensor.FromF32(w, 4, 8))
    using (var wq = Api.QuantizeTensor(wt, Scheme.SymmetricNarrow, 0)) {
      Equal(DType.S8, wq.DType(), "scheme dtype");
      var got = wq.ToS8Array();
      for (int r = 0; r < 4; ++r) {
        float m = 0;
        for (int c = 0; c < 8; ++c) m = Math.Max(m, Math.Abs(w[r * 8 + c]));
        var p = Api.QparamsFromRange(Scheme.SymmetricNarrow, -m, m);
        Equal(p.Scale, wq.Scale(r), "row scale");
        Equal(0, wq.ZeroPoint(r), "row zero point");
        for (int c = 0; c < 8; ++c)
          Equal(QuantizeRef(w[r * 8 + c], p.Scale, 0, -127, 127), (int)got[r * 8 + c], "row element");
      }
    }
  }

  static void Dequantize() {
    var v = RandomS8(300);
    using (var q = Tensor.FromS8(v, 3, 100))
    using (var y = new Tensor(DType.F32, 3, 100)) {
      q.SetQParams(0.0173f, 12);
      Api.Dequantize(q, y);
      var got = y.ToF32Array();
      for (int i = 0; i < v.Length; ++i)
        Equal((float)(v[i] - 12) * 0.0173f, got[i], "element " + i);
      using (var y2 = Api.DequantizeTensor(q))
        SameArrays(got, y2.ToF32Array(), "facade dequantize");
    }
    // Round trip error is at most half a step inside the range.
    var x = RandomF32(500, -2, 2);
    using (var xt = Tensor.FromF32(x, 500))
    using (var q = Api.QuantizeTensor(xt, Scheme.AsymmetricU8, -1))
    using (var back = Api.DequantizeTensor(q)) {
      var r = back.ToF32Array();
      float step = q.Scale(0);
      for (int i = 0; i < x.Length; ++i)
        Check(Math.Abs(r[i] - x[i]) <= step * 0.5f + 1e-6f, "round trip within half a step");
    }
  }

  static void ObserverCalibrates() {
    var a = RandomF32(256, -1.5f, 0.5f);
    var b = RandomF32(256, -0.5f, 3.0f);
    using (var obs = new Observer(ObserverKind.Minmax, Scheme.AsymmetricU8, -1))
    using (var ta = Tensor.FromF32(a, 256))
    using (var tb = Tensor.FromF32(b, 256))
    using (var q = new Tensor(DType.U8, 256)) {
      obs.Update(ta);
      obs.Update(tb);
      float lo = float.MaxValue, hi = float.MinValue;
      foreach (var v in a) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
      foreach (var v in b) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
      Equal(1L, obs.Channels(), "per tensor");
      Equal(lo, obs.MinValue(0), "running min");
      Equal(hi, obs.MaxValue(0), "running max");
      var p = Api.QparamsFromRange(Scheme.AsymmetricU8, lo, hi);
      Equal(p.Scale, obs.Scale(0), "scale");
      Equal(p.ZeroPoint, obs.ZeroPoint(0), "zero point");
      obs.Apply(q);
      Equal(p.Scale, q.Scale(0), "applied");
      obs.Reset();
      Fails(Status.ErrState, () => obs.Channels(), "channels after reset");
    }
    using (var opts = new ObserverOptions()) {
      Equal(ObserverKind.Minmax, opts.Kind, "default kind");
      Equal(-1, opts.Axis, "default axis");
      opts.Kind = ObserverKind.Percentile;
      opts.Percentile = 99.0;
      opts.Axis = 0;
      opts.Scheme = Scheme.SymmetricNarrow;
      using (var obs = new Observer(opts))
      using (var t = Tensor.FromF32(RandomF32(2 * 500, -1, 1), 2, 500)) {
        obs.Update(t);
        Equal(2L, obs.Channels(), "per channel");
        Check(obs.MaxValue(1) <= 1.0f && obs.MaxValue(1) > 0.9f, "percentile clips a little");
      }
    }
  }

  // ---- GEMM --------------------------------------------------------------------------------------

  static readonly int[][] gemmShapes = {
    new[] {1, 1, 1}, new[] {3, 5, 7}, new[] {17, 33, 65}, new[] {64, 48, 96}, new[] {2, 100, 3},
    new[] {0, 4, 5}, new[] {4, 0, 5}, new[] {4, 5, 0},
  };

  static void GemmU8S8() {
    foreach (var s in gemmShapes)
      foreach (bool trans in new[] {false, true}) {
        int m = s[0], n = s[1], k = s[2];
        var a = RandomU8(m * k);
        var b = RandomS8(k * n);  // [k, n], or [n, k] when transposed
        int za = rng.Next(0, 256), zb = rng.Next(-128, 128);
        var bias = n % 2 == 1 ? RandomS32(n, -100000, 100000) : new int[0];
        var c = new int[m * n];
        Api.GemmU8s8S32(m, n, k, a, za, b, trans, zb, bias, c);
        var want = GemmRef(m, n, k, (i, p) => a[i * k + p] - za,
                           (p, j) => (trans ? b[j * k + p] : b[p * n + j]) - zb, bias);
        var what = "u8s8 " + m + "x" + n + "x" + k + (trans ? " B^T" : "");
        for (int i = 0; i < c.Length; ++i)
          Equal((int)want[i], c[i], what + " element " + i);
        // The dequantizing epilogue: (float)acc * scale[j], one f32 multiply.
        var scales = RandomF32(Math.Max(n, 1), 0.001f, 0.01f);
        if (n == 0) scales = new float[] {0.5f};
        var f = new float[m * n];
        Api.GemmU8s8F32(m, n, k, a, za, b, trans, zb, bias, scales, f);
        for (int i = 0; i < f.Length; ++i)
          Equal((float)want[i] * scales[scales.Length == 1 ? 0 : i % n], f[i], what + " f32 element " + i);
      }
  }

  static void GemmS8S8() {
    foreach (var s in gemmShapes)
      foreach (bool trans in new[] {false, true}) {
        int m = s[0], n = s[1], k = s[2];
        var a = RandomS8(m * k);
        var b = RandomS8(k * n);
        int za = rng.Next(-128, 128), zb = rng.Next(-128, 128);
        var c = new int[m * n];
        Api.GemmS8s8S32(m, n, k, a, za, b, trans, zb, null, c);
        var want = GemmRef(m, n, k, (i, p) => a[i * k + p] - za,
                           (p, j) => (trans ? b[j * k + p] : b[p * n + j]) - zb, new int[0]);
        for (int i = 0; i < c.Length; ++i)
          Equal((int)want[i], c[i], "s8s8 " + m + "x" + n + "x" + k + " element " + i);
      }
    // Extremes: every product at its largest magnitude.
    const int K = 300;
    var ax = new sbyte[K]; var bx = new sbyte[K];
    for (int i = 0; i < K; ++i) { ax[i] = -128; bx[i] = -128; }
    var cx = new int[1];
    Api.GemmS8s8S32(1, 1, K, ax, 127, bx, false, 127, null, cx);
    Equal(K * 255 * 255, cx[0], "extreme accumulator");
  }

  static void GemmPacked() {
    int m = 9, n = 40, k = 70;
    var w = RandomS8(n * k);  // [n, k]: a Linear layer's weight
    var zps = RandomS32(n, -3, 4);
    using (var pm = new PackedMatrix(k, n, w, true, zps)) {
      Equal((long)k, pm.K(), "K");
      Equal((long)n, pm.N(), "N");
      var a = RandomU8(m * k);
      var bias = RandomS32(n, -1000, 1000);
      var c = new int[m * n];
      pm.MultiplyS32(m, a, 3, bias, c);
      var want = GemmRef(m, n, k, (i, p) => a[i * k + p] - 3, (p, j) => w[j * k + p] - zps[j], bias);
      for (int i = 0; i < c.Length; ++i)
        Equal((int)want[i], c[i], "packed element " + i);
      var f = new float[m * n];
      pm.MultiplyF32(m, a, 3, bias, new float[] {0.25f}, f);
      for (int i = 0; i < f.Length; ++i)
        Equal((float)want[i] * 0.25f, f[i], "packed f32 element " + i);
      // The same weights unpacked, one zero point: same bits as the plain call.
      using (var p1 = new PackedMatrix(k, n, w, true, new[] {2})) {
        var c1 = new int[m * n];
        var c2 = new int[m * n];
        p1.MultiplyS32(m, a, 3, null, c1);
        Api.GemmU8s8S32(m, n, k, a, 3, w, true, 2, null, c2);
        SameArrays(c2, c1, "packed == unpacked");
      }
      Fails(Status.ErrShape, () => pm.MultiplyS32(m, a, 3, null, new int[m * n - 1]), "short output");
    }
  }

  static void GemmF32AndDynamicLinear() {
    int m = 5, n = 12, k = 33;
    var a = RandomF32(m * k, -1, 1);
    var w = RandomF32(n * k, -0.5f, 0.5f);
    var bias = RandomF32(n, -0.1f, 0.1f);
    var c = new float[m * n];
    Api.GemmF32(m, n, k, a, w, true, c);
    double maxRef = 0;
    var exact = new double[m * n];
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int p = 0; p < k; ++p) acc += (double)a[i * k + p] * w[j * k + p];
        exact[i * n + j] = acc;
        maxRef = Math.Max(maxRef, Math.Abs(acc));
        Check(Math.Abs(c[i * n + j] - acc) < 1e-4, "f32 gemm element");
      }
    using (var lin = new DynamicLinear(n, k, w, bias)) {
      Equal((long)k, lin.InFeatures(), "in features");
      Equal((long)n, lin.OutFeatures(), "out features");
      Equal((long)(n * k + 2 * n * 4), lin.WeightBytes(), "bytes: INT8 weights + f32 scales and bias");
      var y = new float[m * n];
      lin.Forward(m, a, y);
      for (int i = 0; i < y.Length; ++i)
        Check(Math.Abs(y[i] - (exact[i] + bias[i % n])) < 0.03 * maxRef, "dynamic linear close to f32");
      var wq = new sbyte[n * k];
      var ws = new float[n];
      lin.Weights(wq);
      lin.WeightScales(ws);
      for (int o = 0; o < n; ++o) {
        float mx = 0;
        for (int p = 0; p < k; ++p) mx = Math.Max(mx, Math.Abs(w[o * k + p]));
        Equal(Api.QparamsFromRange(Scheme.SymmetricNarrow, -mx, mx).Scale, ws[o], "weight scale");
        for (int p = 0; p < k; ++p)
          Equal(QuantizeRef(w[o * k + p], ws[o], 0, -127, 127), (int)wq[o * k + p], "weight");
      }
    }
    var x = new float[] {-1, 0, 0.5f, 2};
    var xq = new byte[4];
    var qp = Api.DynamicQuantizeU8(x, xq);
    Equal(3.0f / 255, qp.Scale, "dynamic scale");
    Equal(85, qp.ZeroPoint, "dynamic zero point");
    for (int i = 0; i < x.Length; ++i)
      Equal(QuantizeRef(x[i], qp.Scale, qp.ZeroPoint, 0, 255), (int)xq[i], "dynamic element");
  }

  // ---- fixed point -------------------------------------------------------------------------------

  static void FixedPoint() {
    var x = new float[] {0, 0.5f, -0.5f, 0.99999f, -1, 1, 2, -3, 1.0f / 65536, 3.0f / 65536, -3.0f / 65536, 0.123456f};
    foreach (Rounding r in new[] {Rounding.TowardZero, Rounding.NearestAway, Rounding.NearestEven}) {
      var q15 = new short[x.Length];
      Api.FixedFromF32S16(x, q15, 15, r);
      for (int i = 0; i < x.Length; ++i) {
        double v = (double)x[i] * 32768;
        double rv = r == Rounding.TowardZero ? Math.Truncate(v)
                  : Math.Round(v, r == Rounding.NearestAway ? MidpointRounding.AwayFromZero : MidpointRounding.ToEven);
        Equal((short)SaturateInt((long)rv, short.MinValue, short.MaxValue), q15[i], "Q15 " + r + " of " + x[i]);
      }
    }
    var back = new float[3];
    Api.FixedToF32S8(new sbyte[] {-128, 64, 1}, back, 7);
    SameArrays(new float[] {-1, 0.5f, 1.0f / 128}, back, "Q7 to f32");

    var a = new short[] {short.MinValue, short.MinValue, 16384, -16384, 12345, 32767};
    var b = new short[] {short.MinValue, 32767, 16384, 16384, -23456, 32767};
    var y = new short[a.Length];
    Api.FixedMultQ15(a, b, y);
    for (int i = 0; i < a.Length; ++i)
      Equal((short)SaturateInt(((int)a[i] * b[i]) >> 15, short.MinValue, short.MaxValue), y[i], "mult_q15 " + i);
    long dot = 0;
    for (int i = 0; i < a.Length; ++i) dot += (long)a[i] * b[i];
    Equal(dot, Api.FixedDotProdQ15(a, b), "dot_prod_q15");

    var p = new sbyte[] {127, -128, 100, -100, 5};
    var q = new sbyte[] {1, -1, 100, -100, -6};
    var s = new sbyte[p.Length];
    Api.FixedAddQ7(p, q, s);
    for (int i = 0; i < p.Length; ++i)
      Equal((sbyte)SaturateInt(p[i] + q[i], -128, 127), s[i], "add_q7 " + i);

    Equal(int.MaxValue, Api.FixedSatRoundingDoublingHighMul(int.MinValue, int.MinValue), "saturating high mul");
    Equal(3, Api.FixedRoundingDivideByPot(5, 1), "rounding divide: tie away from zero");
    Equal(-3, Api.FixedRoundingDivideByPot(-5, 1), "rounding divide: negative tie");
    using (var mult = Api.FixedQuantizeMultiplier(0.3)) {
      double real = mult.Value * Math.Pow(2, mult.Shift) / 2147483648.0;
      Check(Math.Abs(real - 0.3) < 1e-9, "quantized multiplier represents 0.3");
      Equal(300, Api.FixedMultiplyByQuantizedMultiplier(1000, mult.Value, mult.Shift), "1000 * 0.3");
    }
    Equal((short)32767, Api.FixedAddQ15Scalar(32000, 32000), "scalar saturating add");
  }

  // ---- errors ------------------------------------------------------------------------------------

  static void Errors() {
    using (var x = Tensor.FromF32(new float[] {1, 2, 3}, 3))
    using (var y = new Tensor(DType.S8, 3)) {
      var e = Throws<Q8Exception>(() => Api.Quantize(x, y), "quantize without parameters");
      Check(e.Status != Status.Ok, "a failure status");
      Equal(Api.StatusString(e.Status) + ": " + Api.LastError(), e.Message, "message is q8_last_error()");
      Fails(Status.ErrDtype, () => x.CopyToS8(new sbyte[3]), "wrong element type");
      Fails(Status.ErrShape, () => x.CopyFromF32(new float[4]), "wrong length");
      Fails(Status.ErrShape, () => x.Dim(1), "dimension past the rank");
      Throws<ArgumentOutOfRangeException>(() => x.Dim(-1), "negative size_t");
      Fails(Status.ErrInvalidArgument, () => y.SetQParams(0, 0), "zero scale");
      // A failed call leaves nothing pending: the next one works.
      y.SetQParams(0.5f, 0);
      Api.Quantize(x, y);
      SameArrays(new sbyte[] {2, 4, 6}, y.ToS8Array(), "after a failure");
    }
    Fails(Status.ErrShape, () => new Tensor(DType.F32, 2, -1).Dispose(), "negative dimension");
    Fails(Status.ErrShape, () => new Tensor(DType.F32, 1, 1, 1, 1, 1, 1, 1, 1, 1).Dispose(), "rank 9");
    Fails(Status.ErrShape, () => Tensor.FromF32(new float[5], 2, 3).Dispose(), "array vs shape");
    Fails(Status.ErrShape, () => Api.GemmU8s8S32(2, 2, 2, new byte[3], 0, new sbyte[4], false, 0, null, new int[4]), "short A");
    Fails(Status.ErrShape, () => Api.GemmS8s8S32(2, 2, 2, new sbyte[4], 0, new sbyte[4], false, 0, new int[3], new int[4]), "bias length");
    Fails(Status.ErrShape, () => Api.FixedAddQ7(new sbyte[3], new sbyte[2], new sbyte[3]), "operand lengths");
    Fails(Status.ErrInvalidArgument, () => Api.FixedQuantizeMultiplier(-1).Dispose(), "negative multiplier");
    Fails(Status.ErrIo, () => Model.LoadOnnx("/nonexistent/model.onnx").Dispose(), "missing file");
    Fails(Status.ErrFormat, () => Model.LoadBytes(new byte[] {1, 2, 3, 4}).Dispose(), "not a .q8");
    Fails(Status.ErrFormat, () => Model.LoadOnnxBytes(new byte[] {0xff, 0xff, 0xff}).Dispose(), "not ONNX");
    Equal(0L, Api.LiveHandles(), "failed constructors leave no handle");
  }

  // ---- lifetime ----------------------------------------------------------------------------------

  static void ClosedObjects() {
    var t = new Tensor(DType.F32, 4);
    var q = new Tensor(DType.S8, 4);
    q.SetQParams(1, 0);
    Check(!t.IsDisposed, "open");
    t.Dispose();
    Check(t.IsDisposed, "disposed");
    t.Dispose();  // a second Dispose is a no-op
    var e = Throws<ObjectDisposedException>(() => t.Numel(), "method of a disposed tensor");
    Equal("Tensor", e.ObjectName, "names the class");
    Throws<ObjectDisposedException>(() => Api.Quantize(t, q), "disposed tensor as an argument");
    Throws<ObjectDisposedException>(() => t.CopyFromF32(new float[4]), "span method of a disposed tensor");
    Equal("Tensor(disposed)", t.ToString(), "ToString of a disposed tensor");
    Fails(Status.ErrInvalidArgument, () => Api.Quantize(null, q), "null: the C API names it");
    q.Dispose();

    Tensor kept;
    using (var u = new Tensor(DType.U8, 2)) kept = u;
    Check(kept.IsDisposed, "using disposes");

    var obs = new Observer(ObserverKind.Minmax, Scheme.AsymmetricU8, -1);
    obs.Dispose();
    Equal("Observer", Throws<ObjectDisposedException>(() => obs.Reset(), "observer").ObjectName, "observer name");
    var pm = new PackedMatrix(2, 2, new sbyte[4], false, null);
    pm.Dispose();
    Throws<ObjectDisposedException>(() => pm.MultiplyS32(1, new byte[2], 0, null, new int[2]), "packed matrix");
    var list = new TensorList();
    list.Dispose();
    Throws<ObjectDisposedException>(() => list.Size(), "tensor list");
    var opts = new PtqOptions();
    opts.Dispose();
    Throws<ObjectDisposedException>(() => { var m = opts.Mode; }, "options field");
    var mult = Api.FixedQuantizeMultiplier(0.5);
    mult.Dispose();
    Throws<ObjectDisposedException>(() => { var s = mult.Shift; }, "result struct");
    Equal(0L, Api.LiveHandles(), "all closed");
  }

  static string DataDir() {
    var d = Environment.GetEnvironmentVariable("Q8_TEST_DATA");
    if (string.IsNullOrEmpty(d)) throw new Exception("Q8_TEST_DATA is not set");
    return d;
  }

  // A Session keeps its Model: disposing the model first defers freeing it to the session.
  static void SessionKeepsModel() {
    long before = Api.LiveHandles();
    var model = Model.LoadOnnx(Path.Combine(DataDir(), "models", "digits_mlp.onnx"));
    var session = new Session(model, 2);
    Check(ReferenceEquals(model, session.Model), "session.Model");
    model.Dispose();
    Throws<ObjectDisposedException>(() => model.InputCount(), "the disposed model refuses calls");
    using (var x = Tensor.FromF32(RandomF32(128, 0, 1), 2, 64)) {
      session.Run(x);  // still runs on the model's weights
      using (var y = session.Output(0))
        SameArrays(new long[] {2, 10}, y.Shape, "logits shape");
    }
    Equal(before + 2, Api.LiveHandles(), "model kept until the session goes");
    session.Dispose();
    Equal(before, Api.LiveHandles(), "both freed");
    Throws<ObjectDisposedException>(() => new Session(model, 1), "a session of a disposed model");
  }

  // Objects nobody disposed are freed by their finalizers, in whatever order they run.
  static void FinalizersFree() {
    long before = Api.LiveHandles();
    // On a thread that then ends: mono scans stacks conservatively, and a stale slot of this
    // thread's stack could keep an object alive.
    Exception error = null;
    var maker = new System.Threading.Thread(() => {
      try { MakeGarbage(); } catch (Exception e) { error = e; }
    });
    maker.Start();
    maker.Join();
    if (error != null) throw error;
    for (int i = 0; i < 3; ++i) {
      GC.Collect();
      GC.WaitForPendingFinalizers();
    }
    Equal(before, Api.LiveHandles(), "finalizers freed every handle");
  }

  static void MakeGarbage() {
    var model = Model.LoadOnnx(Path.Combine(DataDir(), "models", "digits_mlp.onnx"));
    new Session(model, 1);
    new Session(model, 3);
    Tensor.FromF32(new float[] {1, 2}, 2);
    new Observer(ObserverKind.Minmax, Scheme.SymmetricNarrow, -1);
    new PackedMatrix(4, 4, new sbyte[16], false, null);
    var list = new TensorList();
    list.Add(new Tensor(DType.F32, 3));
    Check(Api.LiveHandles() >= 8, "garbage counted");
  }

  // ---- models on the digits data -----------------------------------------------------------------

  const int Pixels = 64;

  // tests/data/digits.csv.gz: 64 pixel values 0-16 and the label; rows i % 4 == 0 are held out.
  static void LoadDigits(out float[] testX, out int[] testY, out float[] trainX) {
    var tx = new List<float>(); var ty = new List<int>(); var rx = new List<float>();
    using (var file = File.OpenRead(Path.Combine(DataDir(), "digits.csv.gz")))
    using (var gz = new GZipStream(file, CompressionMode.Decompress))
    using (var text = new StreamReader(gz)) {
      string line;
      int row = 0;
      while ((line = text.ReadLine()) != null) {
        var f = line.Split(',');
        bool test = row % 4 == 0;
        for (int j = 0; j < Pixels; ++j)
          (test ? tx : rx).Add((float)(double.Parse(f[j], System.Globalization.CultureInfo.InvariantCulture) / 16.0));
        if (test) ty.Add(int.Parse(f[Pixels]));
        ++row;
      }
      Equal(1797, row, "digits rows");
    }
    testX = tx.ToArray(); testY = ty.ToArray(); trainX = rx.ToArray();
  }

  static long[] InputShape(Model m, int rows) {
    // The MLP takes [batch, 64], the CNN [batch, 1, 8, 8].
    return m.Describe(false).Contains("Conv") ? new long[] {rows, 1, 8, 8} : new long[] {rows, Pixels};
  }

  static double Accuracy(Model m, float[] x, int[] y) {
    int n = y.Length;
    using (var s = new Session(m, n))
    using (var input = Tensor.FromF32(x, InputShape(m, n))) {
      s.Run(input);
      using (var logits = s.Output(0)) {
        var l = logits.ToF32Array();
        int ok = 0;
        for (int i = 0; i < n; ++i) {
          int best = 0;
          for (int c = 1; c < 10; ++c)
            if (l[i * 10 + c] > l[i * 10 + best]) best = c;
          if (best == y[i]) ++ok;
        }
        return 100.0 * ok / n;
      }
    }
  }

  static List<Tensor> CalibrationBatches(Model m, float[] trainX) {
    var batches = new List<Tensor>();
    int rows = trainX.Length / Pixels;
    for (int first = 0; first < rows; first += 64) {
      int b = Math.Min(64, rows - first);
      batches.Add(Tensor.FromF32(new ReadOnlySpan<float>(trainX, first * Pixels, b * Pixels), InputShape(m, b)));
    }
    return batches;
  }

  static void DigitsModel(string name) {
    float[] testX, trainX;
    int[] testY;
    LoadDigits(out testX, out testY, out trainX);
    Equal(450, testY.Length, "held-out rows");
    var json = File.ReadAllText(Path.Combine(DataDir(), "models", "fp32_accuracy.json"));
    var correct = Regex.Match(json, "\"" + name + "\"[^}]*?\"correct\":\\s*(\\d+)");
    Check(correct.Success, "fp32_accuracy.json has " + name);

    using (var fp32 = Model.LoadOnnx(Path.Combine(DataDir(), "models", "digits_" + name + ".onnx"))) {
      Equal(1L, fp32.InputCount(), "inputs");
      Equal("input", fp32.InputName(0), "input name");
      Equal("logits", fp32.OutputName(0), "output name");
      double a32 = Accuracy(fp32, testX, testY);
      Equal(int.Parse(correct.Groups[1].Value), (int)Math.Round(a32 * 450 / 100), "FP32 rows right, as trained");

      var batches = CalibrationBatches(fp32, trainX);
      using (var opts = new PtqOptions())
      using (var int8 = fp32.Quantize(opts, batches)) {
        Equal(PtqMode.Static, opts.Mode, "static by default");
        Equal(1, opts.PerChannel, "per channel by default");
        double a8 = Accuracy(int8, testX, testY);
        Console.WriteLine("  " + name + ": FP32 " + a32.ToString("F2") + "% -> INT8 " + a8.ToString("F2") + "%, weights "
                          + fp32.WeightBytes() + " -> " + int8.WeightBytes() + " bytes");
        Check(a32 - a8 <= 1.0, "static INT8 within 1 point of FP32");
        Check(int8.WeightBytes() * 3 < fp32.WeightBytes(), "INT8 weights under a third");
        Check(int8.Describe(false).Contains("QLinear") || int8.Describe(false).Contains("QGemm"), "quantized operators");

        // .q8 round trips, by file and by bytes, give the same logits bit for bit.
        string path = Path.Combine(Path.GetTempPath(), "q8cs_" + name + "_" + System.Diagnostics.Process.GetCurrentProcess().Id + ".q8");
        try {
          int8.Save(path);
          using (var loaded = Model.Load(path))
          using (var fromBytes = Model.LoadBytes(File.ReadAllBytes(path)))
          using (var x = Tensor.FromF32(new ReadOnlySpan<float>(testX, 0, 8 * Pixels), InputShape(int8, 8)))
          using (var s1 = new Session(int8, 8))
          using (var s2 = new Session(loaded, 8))
          using (var s3 = new Session(fromBytes, 8)) {
            s1.Run(x); s2.Run(x); s3.Run(x);
            using (var y1 = s1.Output(0)) using (var y2 = s2.Output(0)) using (var y3 = s3.Output(0)) {
              SameArrays(y1.ToF32Array(), y2.ToF32Array(), "saved and loaded");
              SameArrays(y1.ToF32Array(), y3.ToF32Array(), "loaded from bytes");
            }
          }
        } finally {
          File.Delete(path);
        }
        // ONNX export (QDQ form) re-imports into the same quantized operators, bit for bit.
        string onnx = Path.ChangeExtension(path, ".onnx");
        try {
          int8.ExportOnnx(onnx);
          using (var back = Model.LoadOnnx(onnx))
          using (var x = Tensor.FromF32(new ReadOnlySpan<float>(testX, 0, 8 * Pixels), InputShape(int8, 8)))
          using (var s1 = new Session(int8, 8))
          using (var s2 = new Session(back, 8)) {
            s1.Run(x); s2.Run(x);
            using (var y1 = s1.Output(0)) using (var y2 = s2.Output(0))
              SameArrays(y1.ToF32Array(), y2.ToF32Array(), "exported and re-imported");
          }
        } finally {
          File.Delete(onnx);
        }
      }
      foreach (var t in batches) t.Dispose();

      using (var opts = new PtqOptions { Mode = PtqMode.Dynamic })
      using (var dyn = fp32.Quantize(opts)) {
        double ad = Accuracy(dyn, testX, testY);
        Check(a32 - ad <= 1.5, "dynamic INT8 within 1.5 points of FP32 (" + ad + ")");
      }
      // Static mode without calibration names the problem.
      using (var opts = new PtqOptions())
        Fails(Status.ErrInvalidArgument, () => fp32.Quantize(opts).Dispose(), "static without calibration");
    }
  }

  // ---- main --------------------------------------------------------------------------------------

  static int Main() {
    Run("create", Create);
    Run("spans", Spans);
    Run("quantize", Quantize);
    Run("dequantize", Dequantize);
    Run("observer", ObserverCalibrates);
    Run("gemm_u8s8", GemmU8S8);
    Run("gemm_s8s8", GemmS8S8);
    Run("gemm_packed", GemmPacked);
    Run("gemm_f32_dynamic_linear", GemmF32AndDynamicLinear);
    Run("fixed_point", FixedPoint);
    Run("errors", Errors);
    Run("closed_objects", ClosedObjects);
    Run("session_keeps_model", SessionKeepsModel);
    Run("finalizers_free", FinalizersFree);
    Run("model_mlp", () => DigitsModel("mlp"));
    Run("model_cnn", () => DigitsModel("cnn"));
    Run("calibration_merges_exactly", CalibrationMergesExactly);
    Run("calibration_bytes_travel", CalibrationBytesTravel);
    Run("calibration_errors", CalibrationErrors);
    Run("partition_pipelines", PartitionPipelines);
    Run("partition_budgets", PartitionBudgets);
    Run("partition_errors", PartitionErrors);
    Run("checkpoint_quantize", CheckpointQuantize);
    Run("checkpoint_errors", CheckpointErrors);
    // Last: every handle made by the tests is gone once the collector has run.
    Run("live_handles", () => {
      for (int i = 0; i < 3; ++i) {
        GC.Collect();
        GC.WaitForPendingFinalizers();
      }
      Equal(0L, Api.LiveHandles(), "live handles");
    });
    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 ? 0 : 1;
  }
}
