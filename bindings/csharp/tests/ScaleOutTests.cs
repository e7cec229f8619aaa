// Scaling out (q8/calibration.h, partition.h, checkpoint.h) through the C# binding, on the digits
// CNN: calibrations of two halves merged quantize like one calibration of all, partition plans by
// count and budget saved and loaded, pipelines that give a plain session's logits bit for bit, and
// streaming checkpoint quantization of a safetensors file written here. Part of Q8Tests (its
// harness and digits helpers); Main runs these before the final live-handles check.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Q8;

static partial class Q8Tests {
  // A q8 failure whose message also names `part`.
  static Q8Exception Fails(Status status, Action call, string what, string part) {
    var e = Fails(status, call, what);
    Check(e.Message.Contains(part), what + ": '" + part + "' missing from '" + e.Message + "'");
    return e;
  }

  static void SameBits(float[] want, float[] got, string what) {
    Equal(want.Length, got.Length, what + " length");
    for (int i = 0; i < want.Length; ++i)
      if (BitConverter.ToInt32(BitConverter.GetBytes(want[i]), 0) != BitConverter.ToInt32(BitConverter.GetBytes(got[i]), 0))
        throw new Exception(what + "[" + i + "]: expected " + want[i] + ", got " + got[i]);
  }

  // A fresh directory for one test's files; the test deletes it.
  static string TempDir(string name) {
    var dir = Path.Combine(Path.GetTempPath(), "q8cs_" + name + "_" + System.Diagnostics.Process.GetCurrentProcess().Id);
    if (Directory.Exists(dir)) Directory.Delete(dir, true);
    Directory.CreateDirectory(dir);
    return dir;
  }

  // The CNN, four calibration batches of 64 training rows, and the held-out rows.
  sealed class Cnn : IDisposable {
    public readonly Model Fp32, Int8;
    public readonly List<Tensor> Batches = new List<Tensor>();
    public readonly float[] TestX;
    public readonly int Rows;

    public Cnn() {
      float[] testX, trainX;
      int[] testY;
      LoadDigits(out testX, out testY, out trainX);
      TestX = testX;
      Rows = testY.Length;
      Fp32 = Model.LoadOnnx(Path.Combine(DataDir(), "models", "digits_cnn.onnx"));
      for (int i = 0; i < 4; ++i)
        Batches.Add(Tensor.FromF32(new ReadOnlySpan<float>(trainX, i * 64 * Pixels, 64 * Pixels), 64, 1, 8, 8));
      using (var o = new PtqOptions()) Int8 = Fp32.Quantize(o, Batches);
    }

    public Tensor Test(int rows) {
      return Tensor.FromF32(new ReadOnlySpan<float>(TestX, 0, rows * Pixels), rows, 1, 8, 8);
    }

    // The logits of m on every held-out row, in one session.
    public float[] Logits(Model m) {
      using (var s = new Session(m, Rows))
      using (var x = Test(Rows)) {
        s.Run(x);
        using (var y = s.Output(0)) return y.ToF32Array();
      }
    }

    public void Dispose() {
      foreach (var t in Batches) t.Dispose();
      Fp32.Dispose();
      Int8.Dispose();
    }
  }

  static byte[] SavedBytes(Model m, string dir) {
    var path = Path.Combine(dir, "model.q8");
    m.Save(path);
    var bytes = File.ReadAllBytes(path);
    File.Delete(path);
    return bytes;
  }

  // ---- calibration -------------------------------------------------------------------------------

  static void CalibrationBytesTravel() {
    using (var cnn = new Cnn())
    using (var o = new PtqOptions { Observer = ObserverKind.Entropy })
    using (var a = cnn.Fp32.Calibrate(o, cnn.Batches.Take(2)))
    using (var b = cnn.Fp32.Calibrate(o, cnn.Batches.Skip(2))) {
      byte[] sent;
      using (var t = b.ToBytes()) sent = t.ToU8Array();
      Check(sent.Length > 0, "calibration bytes");
      using (var received = Calibration.LoadBytes(sent)) {
        using (var again = received.ToBytes()) Check(sent.SequenceEqual(again.ToU8Array()), "bytes round-trip");
        a.Merge(received);
      }
      var dir = TempDir("calibration-bytes");
      using (var merged = cnn.Fp32.QuantizeCalibrated(o, a))
      using (var direct = cnn.Fp32.Quantize(o, cnn.Batches)) {
        merged.Save(Path.Combine(dir, "merged.q8"));
        direct.Save(Path.Combine(dir, "direct.q8"));
        Check(File.ReadAllBytes(Path.Combine(dir, "merged.q8")).SequenceEqual(File.ReadAllBytes(Path.Combine(dir, "direct.q8"))),
              "bytes sent, loaded and merged vs one calibration of all");
      }
      Fails(Status.ErrFormat, () => Calibration.LoadBytes(System.Text.Encoding.ASCII.GetBytes("not a calibration")),
            "load foreign bytes", "Q8CALIB");
    }
  }

  static void CalibrationMergesExactly() {
    var dir = TempDir("calibration");
    using (var cnn = new Cnn()) {
      foreach (var observer in new[] {ObserverKind.Minmax, ObserverKind.Entropy})
        using (var o = new PtqOptions { Observer = observer })
        using (var a = cnn.Fp32.Calibrate(o, cnn.Batches.Take(2)))
        using (var b = cnn.Fp32.Calibrate(o, cnn.Batches.Skip(2)))
        using (var all = cnn.Fp32.Calibrate(o, cnn.Batches)) {
          Check(a.ActivationCount() > 0, "activations observed");
          Equal(a.ActivationCount(), b.ActivationCount(), "activation counts");
          for (long i = 0; i < a.ActivationCount(); ++i)
            Equal(a.ActivationName(i), b.ActivationName(i), "activation " + i);
          a.Merge(b);
          using (var merged = cnn.Fp32.QuantizeCalibrated(o, a))
          using (var fromAll = cnn.Fp32.QuantizeCalibrated(o, all))
          using (var direct = cnn.Fp32.Quantize(o, cnn.Batches)) {
            var want = SavedBytes(fromAll, dir);
            SameArrays(want, SavedBytes(merged, dir), observer + ": merged halves vs one calibration of all (.q8 bytes)");
            SameArrays(want, SavedBytes(direct, dir), observer + ": QuantizeCalibrated vs Quantize (.q8 bytes)");
            SameBits(cnn.Logits(fromAll), cnn.Logits(merged), observer + ": logits");
          }
        }
    }
    Directory.Delete(dir, true);
  }

  static void CalibrationErrors() {
    using (var cnn = new Cnn())
    using (var mlp = Model.LoadOnnx(Path.Combine(DataDir(), "models", "digits_mlp.onnx")))
    using (var flat = Tensor.FromF32(new float[64 * Pixels], 64, Pixels))
    using (var minmax = new PtqOptions())
    using (var entropy = new PtqOptions { Observer = ObserverKind.Entropy })
    using (var moving = new PtqOptions { Observer = ObserverKind.MovingAverageMinmax })
    using (var dynamic = new PtqOptions { Mode = PtqMode.Dynamic }) {
      var one = cnn.Batches.Take(1);
      using (var c = cnn.Fp32.Calibrate(minmax, one))
      using (var e = cnn.Fp32.Calibrate(entropy, one))
      using (var m = mlp.Calibrate(minmax, new[] {flat}))
      using (var ma = cnn.Fp32.Calibrate(moving, one)) {
        Fails(Status.ErrInvalidArgument, () => cnn.Fp32.QuantizeCalibrated(entropy, c).Dispose(), "other observer", "observer");
        Fails(Status.ErrInvalidArgument, () => cnn.Fp32.QuantizeCalibrated(dynamic, c).Dispose(), "dynamic mode", "Q8_PTQ_STATIC");
        Fails(Status.ErrInvalidArgument, () => c.Merge(e), "merge other settings", "observer");
        Fails(Status.ErrInvalidArgument, () => c.Merge(m), "merge another model", "different models");
        Fails(Status.ErrInvalidArgument, () => mlp.QuantizeCalibrated(minmax, c).Dispose(), "quantize another model", "another model");
        Fails(Status.ErrUnsupported, () => ma.Merge(ma), "merge moving averages", "moving-average");
        // The failed merges left c as it was: it still quantizes like its one batch.
        using (var q = cnn.Fp32.QuantizeCalibrated(minmax, c))
        using (var want = cnn.Fp32.Quantize(minmax, one))
          SameBits(cnn.Logits(want), cnn.Logits(q), "after failed merges");
      }
      Fails(Status.ErrInvalidArgument, () => cnn.Fp32.Calibrate(minmax, new Tensor[0]).Dispose(), "no batches", "batch_count");
      Fails(Status.ErrShape, () => cnn.Fp32.Calibrate(minmax, new[] {flat}).Dispose(), "wrong shape", "shape");

      var closed = cnn.Fp32.Calibrate(minmax, one);
      closed.Dispose();
      closed.Dispose();
      using (var open = cnn.Fp32.Calibrate(minmax, one)) {
        Equal("Calibration", Throws<ObjectDisposedException>(() => closed.Merge(open), "merge into disposed").ObjectName, "name");
        Throws<ObjectDisposedException>(() => open.Merge(closed), "merge a disposed one");
      }
      Throws<ObjectDisposedException>(() => closed.ActivationCount(), "disposed calibration");
      Throws<ObjectDisposedException>(() => cnn.Fp32.QuantizeCalibrated(minmax, closed), "quantize from a disposed one");
    }
  }

  // ---- partition plans and pipelines -------------------------------------------------------------

  // The partitions are contiguous runs covering every node, each reading only the graph input and
  // earlier partitions' outputs, the last ending in the logits.
  static void CheckPlan(PartitionPlan plan, Model model, long count) {
    Equal(count, plan.Count(), "partitions");
    var available = new HashSet<string> {"input"};
    long next = 0;
    for (long i = 0; i < count; ++i) {
      Equal(next, plan.FirstNode(i), "partition " + i + " starts where the last ended");
      Check(plan.NodeCount(i) > 0, "partition " + i + " has nodes");
      next += plan.NodeCount(i);
      for (long j = 0; j < plan.InputCount(i); ++j)
        Check(available.Contains(plan.InputName(i, j)), plan.InputName(i, j) + " comes from an earlier partition");
      for (long j = 0; j < plan.OutputCount(i); ++j)
        available.Add(plan.OutputName(i, j));
    }
    Equal(model.NodeCount(), next, "nodes covered");
    Equal("logits", plan.OutputName(count - 1, plan.OutputCount(count - 1) - 1), "last output");
  }

  // The plan run partition by partition through plain sessions, each fed by tensor name.
  static float[] RunPartitions(PartitionPlan plan, Tensor x, int batch) {
    var tensors = new Dictionary<string, Tensor> {{"input", x}};
    var made = new List<Tensor>();
    try {
      for (long i = 0; i < plan.Count(); ++i)
        using (var m = plan.Model(i))
        using (var s = new Session(m, batch)) {
          var inputs = new Tensor[m.InputCount()];
          for (int j = 0; j < inputs.Length; ++j) inputs[j] = tensors[m.InputName(j)];
          s.Run(inputs);
          for (long j = 0; j < m.OutputCount(); ++j) {
            var y = s.Output(j);
            made.Add(y);
            tensors[m.OutputName(j)] = y;
          }
        }
      return tensors["logits"].ToF32Array();
    } finally {
      foreach (var t in made) t.Dispose();
    }
  }

  static void PartitionPipelines() {
    var dir = TempDir("plans");
    var file = Path.Combine(dir, "plan.json");
    using (var cnn = new Cnn())
    using (var x = cnn.Test(cnn.Rows)) {  // 450 rows: micro-batches of 7 end in a short one
      var want = cnn.Logits(cnn.Int8);
      foreach (var count in new long[] {2, 3})
        foreach (var balance in new[] {PartitionBalance.PartitionByBytes, PartitionBalance.PartitionByFlops}) {
          string json;
          using (var o = new PartitionOptions { Count = count, Balance = balance, Batch = cnn.Rows })
          using (var plan = PartitionPlan.Create(cnn.Int8, o)) {
            CheckPlan(plan, cnn.Int8, count);
            SameBits(want, RunPartitions(plan, x, cnn.Rows), "partitions one by one");
            json = plan.Describe(true);
            Check(json.Contains("\"q8-partition-plan\""), "plan JSON: " + json);
            Check(plan.Describe(false).Contains(count + " partitions"), "plan table");
            plan.Save(file);
          }
          SameArrays(new[] {file}, Directory.GetFiles(dir), "only the plan is left after an atomic save");
          using (var loaded = PartitionPlan.Load(cnn.Int8, file))
          using (var fromBytes = PartitionPlan.LoadBytes(cnn.Int8, File.ReadAllBytes(file))) {
            Equal(json, loaded.Describe(true), "loaded from the file");
            Equal(json, fromBytes.Describe(true), "loaded from bytes");
            foreach (var c in new[] {new[] {7, 2}, new[] {0, 1}, new[] {64, 2}})
              using (var po = new PipelineOptions { MicroBatch = c[0], Replicas = c[1], Threads = 2 })
              using (var p = new Pipeline(loaded, cnn.Rows, po)) {
                Equal(1L, p.OutputCount(), "pipeline outputs");
                for (int run = 0; run < 2; ++run) {  // the second run reuses the flow graph
                  p.Run(x);
                  using (var y = p.Output(0))
                    SameBits(want, y.ToF32Array(), "pipeline, micro-batch " + c[0] + ", replicas " + c[1]);
                }
              }
          }
        }
    }
    Directory.Delete(dir, true);
  }

  static void PartitionBudgets() {
    using (var cnn = new Cnn()) {
      ulong largest = 0, total = 0;
      using (var o = new PartitionOptions { Count = 3 })
      using (var three = PartitionPlan.Create(cnn.Int8, o)) {
        CheckPlan(three, cnn.Int8, 3);
        for (long i = 0; i < 3; ++i) {
          largest = Math.Max(largest, three.WeightBytes(i));
          total += three.WeightBytes(i);
        }
      }
      long n;
      using (var o = new PartitionOptions { MaxBytes = largest }) {  // the 3-partition split meets it
        using (var plan = PartitionPlan.Create(cnn.Int8, o)) {
          n = plan.Count();
          Check(n >= 2 && n <= 3, n + " partitions under a budget of " + largest + " of " + total + " bytes");
          CheckPlan(plan, cnn.Int8, n);
          for (long i = 0; i < n; ++i) Check(plan.WeightBytes(i) <= largest, "partition within the budget");
        }
        o.MaxBytes = total;  // room for everything
        using (var plan = PartitionPlan.Create(cnn.Int8, o)) CheckPlan(plan, cnn.Int8, 1);
        o.MaxBytes = largest;
        o.Count = n - 1;
        Fails(Status.ErrShape, () => PartitionPlan.Create(cnn.Int8, o).Dispose(), "fewer partitions than the budget needs", "at least");
        o.MaxBytes = 1;
        o.Count = 0;
        Fails(Status.ErrShape, () => PartitionPlan.Create(cnn.Int8, o).Dispose(), "a budget no node fits", "above max_bytes = 1");
      }
    }
  }

  static void PartitionErrors() {
    var dir = TempDir("plan_errors");
    using (var cnn = new Cnn()) {
      Model q;
      using (var options = new PtqOptions()) q = cnn.Fp32.Quantize(options, cnn.Batches);
      PartitionPlan plan;
      using (var o = new PartitionOptions { Count = q.NodeCount() + 1 }) {
        Fails(Status.ErrShape, () => PartitionPlan.Create(q, o).Dispose(), "more partitions than nodes", "nodes");
        o.Count = 2;
        plan = PartitionPlan.Create(q, o);
      }
      var truncated = Encoding.UTF8.GetBytes("{\"format\": \"q8-partition-plan\", \"version\": 1, \"partitions\": [");
      Fails(Status.ErrFormat, () => PartitionPlan.LoadBytes(q, truncated).Dispose(), "truncated JSON", "not valid JSON");
      var missing = Path.Combine(dir, "no-such-plan.json");
      Fails(Status.ErrIo, () => PartitionPlan.Load(q, missing).Dispose(), "missing plan", "no-such-plan.json");
      Fails(Status.ErrInvalidArgument, () => plan.FirstNode(2), "partition index", "out of range");
      Fails(Status.ErrInvalidArgument, () => plan.Model(2).Dispose(), "partition model index", "out of range");
      // The plan names the INT8 model's nodes, which the FP32 model does not have.
      var json = Encoding.UTF8.GetBytes(plan.Describe(true));
      Fails(Status.ErrFormat, () => PartitionPlan.LoadBytes(cnn.Fp32, json).Dispose(), "plan of another model", "model");
      Fails(Status.ErrIo, () => plan.Save(Path.Combine(dir, "no", "such", "plan.json")), "save into nowhere", "plan.json");

      Pipeline p;
      using (var po = new PipelineOptions { Replicas = 0 }) {
        Fails(Status.ErrInvalidArgument, () => new Pipeline(plan, 8, po).Dispose(), "no replicas", "replicas");
        po.Replicas = 2;
        po.MicroBatch = 3;
        p = new Pipeline(plan, 8, po);
      }
      Fails(Status.ErrState, () => p.Output(0).Dispose(), "output before a run", "has not run");
      using (var wrong = cnn.Test(5))
        Fails(Status.ErrShape, () => p.Run(wrong), "wrong batch", "shape");

      // The plan and the model may go first: the pipeline keeps what it runs.
      plan.Dispose();
      q.Dispose();
      using (var x = cnn.Test(8)) {
        p.Run(x);
        using (var y = p.Output(0)) SameArrays(new long[] {8, 10}, y.Shape, "pipeline output shape");
        p.Dispose();
        p.Dispose();
        Equal("Pipeline", Throws<ObjectDisposedException>(() => p.Run(x), "disposed pipeline").ObjectName, "name");
      }
      Throws<ObjectDisposedException>(() => p.OutputCount(), "disposed pipeline");
      Equal("PartitionPlan", Throws<ObjectDisposedException>(() => plan.Count(), "disposed plan").ObjectName, "name");
      using (var po = new PipelineOptions())
        Throws<ObjectDisposedException>(() => new Pipeline(plan, 8, po), "pipeline of a disposed plan");
      using (var o = new PartitionOptions { Count = 2 })
        Throws<ObjectDisposedException>(() => PartitionPlan.Create(q, o), "plan of a disposed model");
    }
    Directory.Delete(dir, true);
  }

  // ---- checkpoints ---------------------------------------------------------------------------------

  // A safetensors file: the header's length (u64 little-endian), the JSON header, then each
  // tensor's little-endian F32 bytes in order.
  static void WriteSafetensors(string path, params Tuple<string, long[], float[]>[] tensors) {
    var header = new StringBuilder("{");
    long at = 0;
    foreach (var t in tensors) {
      long size = t.Item3.Length * 4L;
      if (header.Length > 1) header.Append(", ");
      header.Append("\"" + t.Item1 + "\": {\"dtype\": \"F32\", \"shape\": [" + string.Join(", ", t.Item2) +
                    "], \"data_offsets\": [" + at + ", " + (at + size) + "]}");
      at += size;
    }
    var text = Encoding.UTF8.GetBytes(header.Append('}').ToString());
    using (var f = new BinaryWriter(File.Create(path))) {  // BinaryWriter writes little-endian
      f.Write((ulong)text.Length);
      f.Write(text);
      foreach (var t in tensors)
        foreach (var v in t.Item3) f.Write(v);
    }
  }

  // Each output of the .q8 model (one per checkpoint tensor, dequantized), by name.
  static Dictionary<string, float[]> Dequantized(string path) {
    var out_ = new Dictionary<string, float[]>();
    using (var m = Model.Load(path))
    using (var s = new Session(m, 1)) {
      Equal(0L, m.InputCount(), "a checkpoint model has no inputs");
      s.Run();
      for (long i = 0; i < m.OutputCount(); ++i)
        using (var y = s.Output(i)) out_[m.OutputName(i)] = y.ToF32Array();
    }
    return out_;
  }

  static void CheckpointQuantize() {
    const int rows = 96, cols = 130, group = 32;  // 130: four groups of 32 and a short one of 2
    var rng = new Random(7);
    var w = new float[rows * cols];
    var norm = new float[cols];
    // Box-Muller normals: the spread of real weights, not uniform ones.
    Func<float> normal = () => (float)(Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()));
    for (int i = 0; i < w.Length; ++i) w[i] = normal();
    for (int i = 0; i < cols; ++i) norm[i] = 1 + normal() / 50;
    var dir = TempDir("checkpoint");
    var src = Path.Combine(dir, "m.safetensors");
    WriteSafetensors(src, Tuple.Create("layer.weight", new long[] {rows, cols}, w), Tuple.Create("layer.norm", new long[] {cols}, norm));

    foreach (var format in new[] {WeightFormat.WeightsInt8PerChannel, WeightFormat.WeightsInt4Grouped}) {
      var dst = Path.Combine(dir, "m.q8");
      using (var o = new CheckpointOptions { Format = format, GroupSize = group, MaxMemory = 16 << 20, MinElements = 1 })
      using (var report = Api.CheckpointQuantize(src, dst, o)) {
        Equal(2L, report.Tensors, "tensors");
        Equal(1L, report.QuantizedTensors, "quantized tensors");
        Equal(4UL * (rows * cols + cols), report.InputBytes, "input bytes");
        Equal((ulong)new FileInfo(dst).Length, report.OutputBytes, "output bytes");
        Check(report.PeakInFlightBytes <= 16 << 20, "peak in flight within max_memory");
      }
      var got = Dequantized(dst);
      SameBits(norm, got["layer.norm"], "the norm stays f32");
      // Within half a step of the float: INT8 steps are max|row| / 127, INT4 steps (hi - lo) / 15
      // over each group of a row, its range widened to hold 0.
      bool int8 = format == WeightFormat.WeightsInt8PerChannel;
      int span = int8 ? cols : group;
      for (int i = 0; i < rows; ++i)
        for (int g = 0; g < cols; g += span) {
          float lo = 0, hi = 0;
          for (int j = g; j < Math.Min(g + span, cols); ++j) {
            lo = Math.Min(lo, w[i * cols + j]);
            hi = Math.Max(hi, w[i * cols + j]);
          }
          float step = int8 ? Math.Max(-lo, hi) / 127 : (hi - lo) / 15;
          for (int j = g; j < Math.Min(g + span, cols); ++j) {
            int at = i * cols + j;
            Check(Math.Abs(got["layer.weight"][at] - w[at]) <= step * 0.5 * (1 + 1e-5) + 1e-7,
                  format + " [" + i + ", " + j + "]: " + got["layer.weight"][at] + " vs " + w[at] + ", step " + step);
          }
        }
    }

    // Named tensors stay f32, bit for bit.
    var kept = Path.Combine(dir, "kept.q8");
    using (var o = new CheckpointOptions { MinElements = 1 }) {
      using (var report = Api.CheckpointQuantize(src, kept, o, new[] {"layer.weight"}))
        Equal(0L, report.QuantizedTensors, "kept f32");
      Throws<ArgumentException>(() => Api.CheckpointQuantize(src, kept, o, new[] {"a\nb"}), "a name with a newline");
    }
    SameBits(w, Dequantized(kept)["layer.weight"], "a tensor kept as f32");
    Directory.Delete(dir, true);
  }

  static void CheckpointErrors() {
    var dir = TempDir("checkpoint_errors");
    var bad = Path.Combine(dir, "bad.safetensors");
    var out_ = Path.Combine(dir, "bad.q8");
    File.WriteAllBytes(bad, new byte[] {5, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'o', (byte)'o', (byte)'p', (byte)'s'});
    Fails(Status.ErrFormat, () => Api.CheckpointQuantize(bad, out_, null).Dispose(), "malformed header", "bad.safetensors");
    Fails(Status.ErrIo, () => Api.CheckpointQuantize(Path.Combine(dir, "missing.safetensors"), out_, null).Dispose(),
          "missing input", "missing.safetensors");
    using (var o = new CheckpointOptions { MaxMemory = 1 << 20 }) {
      Fails(Status.ErrInvalidArgument, () => Api.CheckpointQuantize(bad, out_, o).Dispose(), "max_memory below 16 MiB", "max_memory");
      o.MaxMemory = 16 << 20;
      o.Format = WeightFormat.WeightsInt4Grouped;
      o.GroupSize = 48;
      Fails(Status.ErrInvalidArgument, () => Api.CheckpointQuantize(bad, out_, o).Dispose(), "group size 48", "group_size");
    }
    SameArrays(new[] {bad}, Directory.GetFiles(dir), "failed runs leave no file");
    Directory.Delete(dir, true);
  }
}
