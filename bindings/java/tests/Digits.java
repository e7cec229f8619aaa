package q8.tests;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

/** The bundled digits data (tests/data/digits.csv.gz): 64 pixels 0..16 then the label; rows
 * i % 4 == 0 are the 450 held-out rows, the rest calibrate. Pixels are scaled by 1/16. */
final class Digits {
  static final int PIXELS = 64;
  final float[] x;  // rows * 64
  final int[] y;
  final int rows;

  private Digits(float[] x, int[] y) {
    this.x = x;
    this.y = y;
    this.rows = y.length;
  }

  static Path data(String... parts) {
    String dir = System.getenv("Q8_TEST_DATA");
    if (dir == null)
      throw new IllegalStateException("Q8_TEST_DATA is not set");
    return Path.of(dir, parts);
  }

  private static Digits all;

  static synchronized Digits load() throws IOException {
    if (all != null)
      return all;
    List<float[]> xs = new ArrayList<>();
    List<Integer> ys = new ArrayList<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(
             new GZIPInputStream(Files.newInputStream(data("digits.csv.gz"))), StandardCharsets.US_ASCII))) {
      for (String line; (line = r.readLine()) != null;) {
        String[] f = line.split(",");
        float[] row = new float[PIXELS];
        for (int j = 0; j < PIXELS; j++)
          row[j] = (float) (Double.parseDouble(f[j]) / 16.0);
        xs.add(row);
        ys.add(Integer.parseInt(f[PIXELS].trim()));
      }
    }
    float[] x = new float[xs.size() * PIXELS];
    int[] y = new int[xs.size()];
    for (int i = 0; i < y.length; i++) {
      System.arraycopy(xs.get(i), 0, x, i * PIXELS, PIXELS);
      y[i] = ys.get(i);
    }
    return all = new Digits(x, y);
  }

  /** The held-out rows (test) or the others (train). */
  Digits split(boolean test) {
    int n = 0;
    for (int i = 0; i < rows; i++)
      if ((i % 4 == 0) == test)
        n++;
    float[] sx = new float[n * PIXELS];
    int[] sy = new int[n];
    for (int i = 0, k = 0; i < rows; i++) {
      if ((i % 4 == 0) != test)
        continue;
      System.arraycopy(x, i * PIXELS, sx, k * PIXELS, PIXELS);
      sy[k++] = y[i];
    }
    return new Digits(sx, sy);
  }

  /** Rows [first, first + count) as a model input: [count, 64] or, for the CNN, [count, 1, 8, 8]. */
  q8.Tensor batch(int first, int count, boolean cnn) {
    float[] part = java.util.Arrays.copyOfRange(x, first * PIXELS, (first + count) * PIXELS);
    long[] dims = cnn ? new long[] {count, 1, 8, 8} : new long[] {count, PIXELS};
    return q8.Tensor.fromF32(part, dims);
  }
}
