// Quantize the bundled digits model after training (static INT8, calibrated on training rows)
// and compare it with FP32 on the 450 held-out rows. Run by `meson test --suite examples`:
//   java -cp q8.jar:. QuantizeModel tests/data/models/digits_cnn.onnx tests/data/digits.csv.gz
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;
import q8.*;

public class QuantizeModel {
  static final int PIXELS = 64;

  public static void main(String[] args) throws IOException {
    Path modelPath = Path.of(args[0]), dataPath = Path.of(args[1]);
    List<float[]> rows = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(dataPath))))) {
      for (String line; (line = r.readLine()) != null;) {
        String[] f = line.split(",");
        float[] px = new float[PIXELS];
        for (int j = 0; j < PIXELS; j++)
          px[j] = Float.parseFloat(f[j]) / 16f;  // the models take pixel / 16
        rows.add(px);
        labels.add(Integer.parseInt(f[PIXELS].trim()));
      }
    }
    List<Integer> train = new ArrayList<>(), test = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++)
      (i % 4 == 0 ? test : train).add(i);  // rows i % 4 == 0 are held out

    try (Model fp32 = Model.loadOnnx(modelPath.toString())) {
      List<Tensor> calibration = new ArrayList<>();
      for (int first = 0; first < train.size(); first += 64)
        calibration.add(batch(rows, train.subList(first, Math.min(first + 64, train.size()))));
      Model int8;
      try (PtqOptions options = new PtqOptions()) {  // static, per-channel s8 weights, u8 activations
        int8 = fp32.quantize(options, calibration);
      } finally {
        for (Tensor t : calibration)
          t.close();
      }
      try (int8) {
        double a32 = accuracy(fp32, rows, labels, test), a8 = accuracy(int8, rows, labels, test);
        System.out.printf("%s: %d nodes%n", modelPath.getFileName(), fp32.nodeCount());
        System.out.printf("top-1 accuracy  FP32 %.2f%%  INT8 %.2f%%%n", a32, a8);
        System.out.printf("weight bytes    FP32 %d  INT8 %d (%.3fx)%n", fp32.weightBytes(), int8.weightBytes(),
                          (double) int8.weightBytes() / fp32.weightBytes());
        Path saved = Files.createTempFile("digits", ".q8");
        try {
          int8.save(saved.toString());
          try (Model back = Model.load(saved.toString())) {
            System.out.printf("saved and reloaded: %d bytes, accuracy %.2f%%%n", Files.size(saved),
                              accuracy(back, rows, labels, test));
          }
        } finally {
          Files.delete(saved);
        }
        if (a32 - a8 > 1.0)
          throw new AssertionError("INT8 lost more than one point");
      }
    }
  }

  /** Rows as the CNN's input [count, 1, 8, 8]. */
  static Tensor batch(List<float[]> rows, List<Integer> which) {
    float[] x = new float[which.size() * PIXELS];
    for (int i = 0; i < which.size(); i++)
      System.arraycopy(rows.get(which.get(i)), 0, x, i * PIXELS, PIXELS);
    return Tensor.fromF32(x, new long[] {which.size(), 1, 8, 8});
  }

  static double accuracy(Model m, List<float[]> rows, List<Integer> labels, List<Integer> test) {
    int ok = 0;
    for (int first = 0; first < test.size(); first += 64) {
      List<Integer> part = test.subList(first, Math.min(first + 64, test.size()));
      try (Session s = new Session(m, part.size()); Tensor x = batch(rows, part)) {
        s.runOne(x);
        float[] logits = s.outputF32(0);
        for (int i = 0; i < part.size(); i++) {
          int best = 0;
          for (int c = 1; c < 10; c++)
            if (logits[i * 10 + c] > logits[i * 10 + best])
              best = c;
          ok += best == labels.get(part.get(i)) ? 1 : 0;
        }
      }
    }
    return 100.0 * ok / test.size();
  }
}
