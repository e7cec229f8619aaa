// Post-training quantization of the bundled digits CNN: calibrate on the training rows, quantize
// to INT8 (static, per-channel weights), compare accuracy on the 450 held-out rows, save a .q8.
// usage: mono QuantizeModel.exe [DATA_DIR]   (default: $Q8_TEST_DATA, i.e. tests/data)
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using Q8;

static class QuantizeModel {
  static int Main(string[] args) {
    string data = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("Q8_TEST_DATA");
    var train = new List<float>();
    var test = new List<float>();
    var labels = new List<int>();
    // digits.csv.gz: 64 pixels (0-16) and the label per row; rows i % 4 == 0 are held out.
    using (var gz = new GZipStream(File.OpenRead(Path.Combine(data, "digits.csv.gz")), CompressionMode.Decompress))
    using (var text = new StreamReader(gz)) {
      string line;
      for (int row = 0; (line = text.ReadLine()) != null; ++row) {
        var f = line.Split(',');
        for (int j = 0; j < 64; ++j) (row % 4 == 0 ? test : train).Add(float.Parse(f[j], System.Globalization.CultureInfo.InvariantCulture) / 16);
        if (row % 4 == 0) labels.Add(int.Parse(f[64]));
      }
    }

    using (var fp32 = Model.LoadOnnx(Path.Combine(data, "models", "digits_cnn.onnx"))) {
      // Calibration: batches of 64 training images, [batch, 1, 8, 8].
      var batches = new List<Tensor>();
      float[] trainX = train.ToArray();
      for (int first = 0; first < trainX.Length / 64; first += 64) {
        int n = Math.Min(64, trainX.Length / 64 - first);
        batches.Add(Tensor.FromF32(new ReadOnlySpan<float>(trainX, first * 64, n * 64), n, 1, 8, 8));
      }
      using (var options = new PtqOptions { Mode = PtqMode.Static, Observer = ObserverKind.Minmax })
      using (var int8 = fp32.Quantize(options, batches)) {
        foreach (var b in batches) b.Dispose();
        double a32 = Accuracy(fp32, test.ToArray(), labels), a8 = Accuracy(int8, test.ToArray(), labels);
        string path = Path.Combine(Path.GetTempPath(), "digits_cnn_cs.q8");
        int8.Save(path);
        Console.WriteLine("accuracy FP32 " + a32.ToString("F2") + "% -> INT8 " + a8.ToString("F2") + "%");
        Console.WriteLine("weights " + fp32.WeightBytes() + " -> " + int8.WeightBytes() + " bytes; "
                          + new FileInfo(path).Length + " bytes in " + path);
        File.Delete(path);
        bool ok = a32 - a8 <= 1.0;
        Console.WriteLine(ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
        return ok ? 0 : 1;
      }
    }
  }

  // Top-1 accuracy in percent: one session for all rows, the argmax of each row's 10 logits.
  static double Accuracy(Model model, float[] x, List<int> labels) {
    int n = labels.Count;
    using (var session = new Session(model, n))
    using (var input = Tensor.FromF32(x, n, 1, 8, 8)) {
      session.Run(input);
      using (var logits = session.Output(0)) {
        float[] l = logits.ToF32Array();
        int right = 0;
        for (int i = 0; i < n; ++i) {
          int best = 0;
          for (int c = 1; c < 10; ++c) if (l[i * 10 + c] > l[i * 10 + best]) best = c;
          if (best == labels[i]) ++right;
        }
        return 100.0 * right / n;
      }
    }
  }
}
