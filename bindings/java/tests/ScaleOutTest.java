package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import q8.*;

/** Scaling out (q8/calibration.h, partition.h, checkpoint.h) on the digits CNN: calibrations of
 * two halves merged quantize like one calibration of all, partition plans by count and budget
 * saved and loaded, pipelines that give a plain session's logits bit for bit, and streaming
 * checkpoint quantization of a safetensors file written here. */
class ScaleOutTest {
  static Digits train, test;
  static List<Tensor> batches;  // 4 x 64 training rows
  static Model fp32, int8;      // the CNN, and its static INT8 form from `batches`

  @TempDir
  Path dir;

  @BeforeAll
  static void setUp() throws IOException {
    Digits all = Digits.load();
    train = all.split(false);
    test = all.split(true);
    batches = new ArrayList<>();
    for (int i = 0; i < 4; i++)
      batches.add(train.batch(i * 64, 64, true));
    fp32 = ModelTest.load("cnn");
    try (PtqOptions o = new PtqOptions()) {
      int8 = fp32.quantize(o, batches);
    }
  }

  @AfterAll
  static void tearDown() {
    for (Tensor t : batches)
      t.close();
    fp32.close();
    int8.close();
  }

  /** The logits of m on every held-out row, in one session. */
  static float[] logits(Model m) {
    try (Session s = new Session(m, test.rows); Tensor x = test.batch(0, test.rows, true)) {
      s.runOne(x);
      return s.outputF32(0);
    }
  }

  byte[] saved(Model m) throws IOException {
    Path file = Files.createTempFile(dir, "model", ".q8");
    m.save(file.toString());
    return Files.readAllBytes(file);
  }

  // ---- calibration -----------------------------------------------------------------------------

  @Test
  void mergedHalvesQuantizeLikeOneCalibrationOfAll() throws IOException {
    for (ObserverKind observer : new ObserverKind[] {ObserverKind.MINMAX, ObserverKind.ENTROPY}) {
      try (PtqOptions o = new PtqOptions()) {
        o.setObserver(observer);
        try (Calibration a = fp32.calibrate(o, batches.subList(0, 2));
             Calibration b = fp32.calibrate(o, batches.subList(2, 4));
             Calibration all = fp32.calibrate(o, batches)) {
          assertTrue(a.activationCount() > 0);
          assertEquals(a.activationCount(), b.activationCount());
          for (long i = 0; i < a.activationCount(); i++)
            assertEquals(a.activationName(i), b.activationName(i));
          a.merge(b);
          try (Model merged = fp32.quantizeCalibrated(o, a);
               Model fromAll = fp32.quantizeCalibrated(o, all);
               Model direct = fp32.quantize(o, batches)) {
            byte[] want = saved(fromAll);
            assertArrayEquals(want, saved(merged), observer + ": merged halves vs one calibration of all");
            assertArrayEquals(want, saved(direct), observer + ": quantizeCalibrated vs quantize");
            assertArrayEquals(logits(fromAll), logits(merged));
          }
        }
      }
    }
  }

  @Test
  void calibrationBytesLoadElsewhereAndMerge() throws IOException {
    try (PtqOptions o = new PtqOptions()) {
      o.setObserver(ObserverKind.ENTROPY);
      try (Calibration a = fp32.calibrate(o, batches.subList(0, 2));
           Calibration b = fp32.calibrate(o, batches.subList(2, 4)); Tensor sentTensor = b.toBytes()) {
        byte[] sent = sentTensor.toU8Array();
        try (Calibration received = Calibration.loadBytes(sent); Tensor again = received.toBytes()) {
          assertArrayEquals(sent, again.toU8Array());
          a.merge(received);
        }
        try (Model merged = fp32.quantizeCalibrated(o, a); Model direct = fp32.quantize(o, batches)) {
          assertArrayEquals(saved(direct), saved(merged), "bytes sent, loaded and merged vs one calibration");
        }
        ErrorTest.fails(Status.ERR_FORMAT, () -> Calibration.loadBytes("not a calibration".getBytes()), "Q8CALIB");
      }
    }
  }

  @Test
  void calibrationsOfOtherSettingsOrModelsAreRefused() {
    try (PtqOptions minmax = new PtqOptions(); PtqOptions entropy = new PtqOptions();
         PtqOptions moving = new PtqOptions(); PtqOptions dynamic = new PtqOptions();
         Model mlp = ModelTest.load("mlp"); Tensor flat = train.batch(0, 64, false)) {
      entropy.setObserver(ObserverKind.ENTROPY);
      moving.setObserver(ObserverKind.MOVING_AVERAGE_MINMAX);
      dynamic.setMode(PtqMode.DYNAMIC);
      List<Tensor> one = batches.subList(0, 1);
      try (Calibration c = fp32.calibrate(minmax, one); Calibration e = fp32.calibrate(entropy, one);
           Calibration m = mlp.calibrate(minmax, List.of(flat)); Calibration ma = fp32.calibrate(moving, one)) {
        ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> fp32.quantizeCalibrated(entropy, c), "observer");
        ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> fp32.quantizeCalibrated(dynamic, c), "Q8_PTQ_STATIC");
        ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> c.merge(e), "observer");
        ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> c.merge(m), "different models");
        ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> mlp.quantizeCalibrated(minmax, c), "another model");
        ErrorTest.fails(Status.ERR_UNSUPPORTED, () -> ma.merge(ma), "moving-average");
        // c is unchanged by the failed merges: it still quantizes like its one batch.
        try (Model q = fp32.quantizeCalibrated(minmax, c); Model want = fp32.quantize(minmax, one)) {
          assertArrayEquals(logits(want), logits(q));
        }
      }
      ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> fp32.calibrate(minmax, List.of()), "batch_count");
      ErrorTest.fails(Status.ERR_SHAPE, () -> fp32.calibrate(minmax, List.of(flat)), "shape");

      Calibration closed = fp32.calibrate(minmax, one);
      closed.close();
      closed.close();
      try (Calibration open = fp32.calibrate(minmax, one)) {
        CloseTest.closedError("Calibration", () -> closed.merge(open));
        CloseTest.closedError("Calibration", () -> open.merge(closed));
      }
      CloseTest.closedError("Calibration", closed::activationCount);
      CloseTest.closedError("Calibration", () -> fp32.quantizeCalibrated(minmax, closed));
    }
  }

  // ---- partition plans and pipelines -------------------------------------------------------------

  /** Checks that the partitions are contiguous runs covering every node, each reading only the
   * graph input and earlier partitions' outputs, the last ending in the logits. */
  static void checkPlan(PartitionPlan plan, Model model, long count) {
    assertEquals(count, plan.count());
    java.util.Set<String> available = new java.util.HashSet<>(List.of("input"));
    long next = 0;
    for (long i = 0; i < count; i++) {
      assertEquals(next, plan.firstNode(i), "partition " + i + " starts where the last ended");
      assertTrue(plan.nodeCount(i) > 0);
      next += plan.nodeCount(i);
      for (long j = 0; j < plan.inputCount(i); j++)
        assertTrue(available.contains(plan.inputName(i, j)), plan.inputName(i, j) + " comes from nowhere");
      for (long j = 0; j < plan.outputCount(i); j++)
        available.add(plan.outputName(i, j));
    }
    assertEquals(model.nodeCount(), next);
    assertEquals("logits", plan.outputName(count - 1, plan.outputCount(count - 1) - 1));
  }

  /** The plan run partition by partition through plain sessions, each fed by tensor name. */
  static float[] runPartitions(PartitionPlan plan, Tensor x, int batch) {
    Map<String, Tensor> tensors = new HashMap<>();
    tensors.put("input", x);
    List<Tensor> made = new ArrayList<>();
    try {
      for (long i = 0; i < plan.count(); i++) {
        try (Model m = plan.model(i); Session s = new Session(m, batch); TensorList in = new TensorList()) {
          for (long j = 0; j < m.inputCount(); j++)
            in.add(tensors.get(m.inputName(j)));
          s.run(in);
          for (long j = 0; j < m.outputCount(); j++) {
            Tensor y = s.output(j);
            made.add(y);
            tensors.put(m.outputName(j), y);
          }
        }
      }
      return tensors.get("logits").toF32Array();
    } finally {
      for (Tensor t : made)
        t.close();
    }
  }

  @Test
  void plansByCountSavedLoadedAndPipelined() throws IOException {
    float[] want = logits(int8);
    int batch = test.rows;  // 450: micro-batches of 7 end in a short one
    Path file = dir.resolve("plan.json");
    try (Tensor x = test.batch(0, batch, true)) {
      for (long count : new long[] {2, 3}) {
        for (PartitionBalance balance : PartitionBalance.values()) {
          String json;
          try (PartitionOptions o = new PartitionOptions()) {
            o.setCount(count);
            o.setBalance(balance);
            o.setBatch(batch);
            try (PartitionPlan plan = PartitionPlan.create(int8, o)) {
              checkPlan(plan, int8, count);
              assertArrayEquals(want, runPartitions(plan, x, batch), "partitions one by one");
              json = plan.describe(true);
              Matcher format = Pattern.compile("\"format\":\\s*\"q8-partition-plan\"").matcher(json);
              assertTrue(format.find(), json);
              String table = plan.describe(false);
              assertTrue(table.contains(count + " partitions"), table);
              plan.save(file.toString());
            }
          }
          try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.collect(java.util.stream.Collectors.toList()), "only the plan is left");
          }
          try (PartitionPlan loaded = PartitionPlan.load(int8, file.toString());
               PartitionPlan fromBytes = PartitionPlan.loadBytes(int8, Files.readAllBytes(file))) {
            assertEquals(json, loaded.describe(true));
            assertEquals(json, fromBytes.describe(true));
            for (long[] c : new long[][] {{7, 2}, {0, 1}, {64, 2}}) {
              try (PipelineOptions po = new PipelineOptions()) {
                po.setMicroBatch(c[0]);
                po.setReplicas(c[1]);
                po.setThreads(2);
                try (Pipeline p = new Pipeline(loaded, batch, po)) {
                  assertEquals(1, p.outputCount());
                  for (int run = 0; run < 2; run++) {  // the second run reuses the flow graph
                    p.runOne(x);
                    assertArrayEquals(want, p.outputF32(0), "micro-batch " + c[0] + ", replicas " + c[1]);
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  @Test
  void plansByMemoryBudget() {
    long largest = 0, total = 0, n;
    try (PartitionOptions o = new PartitionOptions()) {
      o.setCount(3);
      try (PartitionPlan three = PartitionPlan.create(int8, o)) {
        checkPlan(three, int8, 3);
        for (long i = 0; i < 3; i++) {
          largest = Math.max(largest, three.weightBytes(i));
          total += three.weightBytes(i);
        }
      }
    }
    try (PartitionOptions o = new PartitionOptions()) {
      o.setMaxBytes(largest);  // the 3-partition split meets it: at most 3, each within it
      try (PartitionPlan plan = PartitionPlan.create(int8, o)) {
        n = plan.count();
        assertTrue(n >= 2 && n <= 3, n + " partitions");
        checkPlan(plan, int8, n);
        for (long i = 0; i < n; i++)
          assertTrue(plan.weightBytes(i) <= largest);
      }
      o.setMaxBytes(total);  // room for everything
      try (PartitionPlan plan = PartitionPlan.create(int8, o)) {
        checkPlan(plan, int8, 1);
      }
      o.setMaxBytes(largest);
      o.setCount(n - 1);
      ErrorTest.fails(Status.ERR_SHAPE, () -> PartitionPlan.create(int8, o), "at least");
      o.setMaxBytes(1);
      o.setCount(0);
      ErrorTest.fails(Status.ERR_SHAPE, () -> PartitionPlan.create(int8, o), "above max_bytes = 1");
    }
  }

  @Test
  void partitionErrorsAndClosedObjects() throws IOException {
    Model model = ModelTest.load("cnn");
    Model q;
    try (PtqOptions o = new PtqOptions()) {
      q = model.quantize(o, batches);
    }
    PartitionPlan plan;
    try (PartitionOptions o = new PartitionOptions()) {
      o.setCount(q.nodeCount() + 1);
      ErrorTest.fails(Status.ERR_SHAPE, () -> PartitionPlan.create(q, o), "nodes");
      o.setCount(2);
      plan = PartitionPlan.create(q, o);
    }
    byte[] truncated = "{\"format\": \"q8-partition-plan\", \"version\": 1, \"partitions\": [".getBytes(StandardCharsets.UTF_8);
    ErrorTest.fails(Status.ERR_FORMAT, () -> PartitionPlan.loadBytes(q, truncated), "not valid JSON");
    String missing = dir.resolve("no-such-plan.json").toString();
    ErrorTest.fails(Status.ERR_IO, () -> PartitionPlan.load(q, missing), "no-such-plan.json");
    ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> plan.firstNode(2), "out of range");
    ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> plan.model(2), "out of range");
    // The plan names the INT8 model's nodes, which the FP32 model does not have.
    byte[] json = plan.describe(true).getBytes(StandardCharsets.UTF_8);
    ErrorTest.fails(Status.ERR_FORMAT, () -> PartitionPlan.loadBytes(model, json), "model");
    String nowhere = dir.resolve("no/such/dir/plan.json").toString();
    ErrorTest.fails(Status.ERR_IO, () -> plan.save(nowhere), "plan.json");

    Pipeline p;
    try (PipelineOptions po = new PipelineOptions()) {
      po.setReplicas(0);
      ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> new Pipeline(plan, 8, po), "replicas");
      po.setReplicas(2);
      po.setMicroBatch(3);
      p = new Pipeline(plan, 8, po);
    }
    ErrorTest.fails(Status.ERR_STATE, () -> p.output(0), "has not run");
    try (Tensor wrong = test.batch(0, 5, true)) {
      ErrorTest.fails(Status.ERR_SHAPE, () -> p.runOne(wrong), "shape");
    }

    // The plan and the models may go first: the pipeline keeps what it runs.
    plan.close();
    q.close();
    model.close();
    try (Tensor x = test.batch(0, 8, true)) {
      p.runOne(x);
      try (Tensor y = p.output(0)) {
        assertArrayEquals(new long[] {8, 10}, y.shape());
      }
      p.close();
      p.close();
      CloseTest.closedError("Pipeline", () -> p.runOne(x));
    }
    CloseTest.closedError("Pipeline", () -> p.output(0));
    CloseTest.closedError("PartitionPlan", plan::count);
    try (PipelineOptions po = new PipelineOptions()) {
      CloseTest.closedError("PartitionPlan", () -> new Pipeline(plan, 8, po));
    }
    try (PartitionOptions o = new PartitionOptions()) {
      o.setCount(2);
      CloseTest.closedError("Model", () -> PartitionPlan.create(q, o));
    }
  }

  // ---- checkpoints ---------------------------------------------------------------------------------

  /** A safetensors file: the header's length (u64 little-endian), the JSON header, then each
   * tensor's F32 bytes in order. Tensors: name -> {shape..., values}. */
  static void writeSafetensors(Path file, Map<String, long[]> shapes, Map<String, float[]> values) throws IOException {
    StringBuilder header = new StringBuilder("{");
    int at = 0;
    for (String name : shapes.keySet()) {
      int size = values.get(name).length * 4;
      if (header.length() > 1)
        header.append(", ");
      header.append('"').append(name).append("\": {\"dtype\": \"F32\", \"shape\": ")
          .append(java.util.Arrays.toString(shapes.get(name)))
          .append(", \"data_offsets\": [").append(at).append(", ").append(at + size).append("]}");
      at += size;
    }
    byte[] text = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + text.length + at).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(text.length).put(text);
    for (String name : shapes.keySet())
      for (float v : values.get(name))
        b.putFloat(v);
    Files.write(file, b.array());
  }

  /** Each output of the .q8 model (one per checkpoint tensor, dequantized), by name. */
  static Map<String, float[]> dequantized(Path file) {
    Map<String, float[]> out = new HashMap<>();
    try (Model m = Model.load(file.toString()); Session s = new Session(m, 1); TensorList none = new TensorList()) {
      assertEquals(0, m.inputCount());
      s.run(none);
      for (long i = 0; i < m.outputCount(); i++)
        out.put(m.outputName(i), s.outputF32(i));
    }
    return out;
  }

  @Test
  void checkpointQuantizeStreamsASafetensorsFile() throws IOException {
    final int rows = 96, cols = 130;  // INT4 groups of 32: four and a short one of 2 per row
    Random r = new Random(7);
    float[] w = new float[rows * cols], norm = new float[cols];
    for (int i = 0; i < w.length; i++)
      w[i] = (float) r.nextGaussian();
    for (int i = 0; i < cols; i++)
      norm[i] = 1 + (float) r.nextGaussian() / 50;
    Path src = dir.resolve("m.safetensors");
    Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
    shapes.put("layer.weight", new long[] {rows, cols});
    shapes.put("layer.norm", new long[] {cols});
    writeSafetensors(src, shapes, Map.of("layer.weight", w, "layer.norm", norm));

    for (WeightFormat format : WeightFormat.values()) {
      Path dst = dir.resolve("m.q8");
      try (CheckpointOptions o = new CheckpointOptions()) {
        o.setFormat(format);
        o.setGroupSize(32);
        o.setMaxMemory(16 << 20);
        o.setMinElements(1);
        try (CheckpointReport report = Q8.checkpointQuantize(src.toString(), dst.toString(), o)) {
          assertEquals(2, report.getTensors());
          assertEquals(1, report.getQuantizedTensors());
          assertEquals(4L * (rows * cols + cols), report.getInputBytes());
          assertEquals(Files.size(dst), report.getOutputBytes());
          assertTrue(report.getPeakInFlightBytes() <= 16 << 20);
        }
      }
      Map<String, float[]> got = dequantized(dst);
      assertArrayEquals(norm, got.get("layer.norm"), "the norm stays f32");
      // Within half a step of the float: INT8 steps are max|row| / 127, INT4 steps (hi - lo) / 15
      // over each group of 32 of a row, its range widened to hold 0.
      boolean int8 = format == WeightFormat.WEIGHTS_INT8_PER_CHANNEL;
      int span = int8 ? cols : 32;
      for (int i = 0; i < rows; i++) {
        for (int g = 0; g < cols; g += span) {
          float lo = 0, hi = 0;
          for (int j = g; j < Math.min(g + span, cols); j++) {
            lo = Math.min(lo, w[i * cols + j]);
            hi = Math.max(hi, w[i * cols + j]);
          }
          float step = int8 ? Math.max(-lo, hi) / 127 : (hi - lo) / 15;
          for (int j = g; j < Math.min(g + span, cols); j++) {
            int at = i * cols + j;
            assertTrue(Math.abs(got.get("layer.weight")[at] - w[at]) <= step * 0.5 * (1 + 1e-5) + 1e-7,
                       format + " [" + i + ", " + j + "]: " + got.get("layer.weight")[at] + " vs " + w[at]);
          }
        }
      }
    }

    // Named tensors stay f32, bit for bit.
    Path kept = dir.resolve("kept.q8");
    try (CheckpointOptions o = new CheckpointOptions()) {
      o.setMinElements(1);
      try (CheckpointReport report = Q8.checkpointQuantize(src.toString(), kept.toString(), o, List.of("layer.weight"))) {
        assertEquals(0, report.getQuantizedTensors());
      }
      assertThrows(IllegalArgumentException.class,
                   () -> Q8.checkpointQuantize(src.toString(), kept.toString(), o, List.of("a\nb")));
    }
    assertArrayEquals(w, dequantized(kept).get("layer.weight"));
  }

  @Test
  void checkpointErrorsLeaveNothingBehind() throws IOException {
    Path bad = dir.resolve("bad.safetensors"), out = dir.resolve("bad.q8");
    Files.write(bad, new byte[] {5, 0, 0, 0, 0, 0, 0, 0, '{', 'o', 'o', 'p', 's'});
    ErrorTest.fails(Status.ERR_FORMAT, () -> Q8.checkpointQuantize(bad.toString(), out.toString(), null), "bad.safetensors");
    String missing = dir.resolve("missing.safetensors").toString();
    ErrorTest.fails(Status.ERR_IO, () -> Q8.checkpointQuantize(missing, out.toString(), null), "missing.safetensors");
    try (CheckpointOptions o = new CheckpointOptions()) {
      o.setMaxMemory(1 << 20);
      ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.checkpointQuantize(bad.toString(), out.toString(), o), "max_memory");
      o.setMaxMemory(16 << 20);
      o.setFormat(WeightFormat.WEIGHTS_INT4_GROUPED);
      o.setGroupSize(48);
      ErrorTest.fails(Status.ERR_INVALID_ARGUMENT, () -> Q8.checkpointQuantize(bad.toString(), out.toString(), o), "group_size");
    }
    try (var files = Files.list(dir)) {
      assertEquals(List.of(bad), files.collect(java.util.stream.Collectors.toList()), "failed runs leave no file");
    }
  }
}
