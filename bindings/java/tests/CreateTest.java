package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;
import q8.*;

class CreateTest {
  @Test
  void versionAndConstants() {
    assertEquals(Q8.VERSION_NUMBER, Q8.version());
    assertEquals(Q8.VERSION_MAJOR + "." + Q8.VERSION_MINOR + "." + Q8.VERSION_PATCH, Q8.versionString());
    assertEquals(8, Q8.MAX_RANK);
    assertEquals("Q8_ERR_SHAPE", Q8.statusString(Status.ERR_SHAPE));
    assertEquals(3, DType.S32.swigValue());
    assertEquals(4, Q8.dtypeSize(DType.F32));
    assertEquals("u8", Q8.dtypeName(DType.U8));
    assertEquals(-1, Isa.AUTO.swigValue());
  }

  @Test
  void threadsRoundTrip() {
    int before = Q8.runtimeThreads();
    Q8.runtimeSetThreads(1);
    assertEquals(1, Q8.runtimeThreads());
    Q8.runtimeSetThreads(before);
    assertEquals(before, Q8.runtimeThreads());
  }

  @Test
  void zeroFilledTensor() {
    try (Tensor t = new Tensor(DType.F32, new long[] {2, 3})) {
      assertEquals(DType.F32, t.dtype());
      assertEquals(2, t.rank());
      assertArrayEquals(new long[] {2, 3}, t.shape());
      assertEquals(6, t.numel());
      assertEquals(24, t.nbytes());
      assertArrayEquals(new float[6], t.toF32Array());
      assertEquals(0, t.qparamsCount());
      assertEquals("Tensor(f32, [2, 3])", t.toString());
    }
  }

  @Test
  void scalarTensor() {
    try (Tensor t = Tensor.fromS32(new int[] {-7}, new long[0])) {
      assertEquals(0, t.rank());
      assertEquals(1, t.numel());
      assertArrayEquals(new int[] {-7}, t.toS32Array());
    }
  }

  @Test
  void arraysRoundTripPerDtype() {
    float[] f = {1.5f, -2f, 0f, Float.MIN_VALUE, Float.MAX_VALUE, -0f};
    try (Tensor t = Tensor.fromF32(f, new long[] {3, 2})) {
      assertArrayEquals(f, t.toF32Array());
    }
    byte[] s8 = {-128, -1, 0, 127};
    try (Tensor t = Tensor.fromS8(s8, new long[] {4})) {
      assertEquals(DType.S8, t.dtype());
      assertArrayEquals(s8, t.toS8Array());
    }
    byte[] u8 = {(byte) 0, (byte) 200, (byte) 255};
    try (Tensor t = Tensor.fromU8(u8, new long[] {1, 3})) {
      assertEquals(DType.U8, t.dtype());
      byte[] back = t.toU8Array();
      assertEquals(200, Byte.toUnsignedInt(back[1]));
      assertEquals(255, Byte.toUnsignedInt(back[2]));
    }
    int[] s32 = {Integer.MIN_VALUE, 0, Integer.MAX_VALUE, 42};
    try (Tensor t = Tensor.fromS32(s32, new long[] {2, 2})) {
      assertArrayEquals(s32, t.toS32Array());
    }
  }

  @Test
  void copyInAndOutOverwrites() {
    try (Tensor t = new Tensor(DType.S8, new long[] {2, 2})) {
      t.copyFromS8(new byte[] {1, 2, 3, 4});
      byte[] out = new byte[] {9, 9, 9, 9};
      t.copyToS8(out);
      assertArrayEquals(new byte[] {1, 2, 3, 4}, out);
    }
  }

  @Test
  void reshapeAndCloneAreIndependent() {
    try (Tensor t = Tensor.fromF32(new float[] {1, 2, 3, 4, 5, 6}, new long[] {2, 3})) {
      t.reshape(new long[] {3, 2});
      assertArrayEquals(new long[] {3, 2}, t.shape());
      assertThrows(Q8Exception.class, () -> t.reshape(new long[] {4, 2}));
      assertArrayEquals(new long[] {3, 2}, t.shape(), "a failed reshape changes nothing");
    }
    try (Tensor t = Tensor.fromS8(new byte[] {1, 2, 3}, new long[] {3})) {
      t.setQParams(0.25f, 1);
      try (Tensor c = t.clone()) {
        t.copyFromS8(new byte[] {7, 7, 7});
        assertArrayEquals(new byte[] {1, 2, 3}, c.toS8Array());
        assertEquals(0.25f, c.scale(0));
        assertEquals(1, c.zeroPoint(0));
      }
    }
  }

  @Test
  void perAxisQParams() {
    try (Tensor t = new Tensor(DType.S8, new long[] {2, 3})) {
      t.setQParamsPerAxis(1, new float[] {0.1f, 0.2f, 0.3f}, new int[] {0, 1, -1});
      assertEquals(3, t.qparamsCount());
      assertEquals(1, t.qparamsAxis());
      assertEquals(0.2f, t.scale(1));
      assertEquals(-1, t.zeroPoint(2));
      t.clearQParams();
      assertEquals(0, t.qparamsCount());
      assertEquals(-1, t.qparamsAxis());
    }
  }

  @Test
  void tensorFromDirectBufferUsesPositionToLimit() {
    FloatBuffer fb = ByteBuffer.allocateDirect(8 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    for (int i = 0; i < 8; i++)
      fb.put(i, i * 1.5f);
    fb.position(2).limit(6);
    try (Tensor t = Tensor.fromF32(fb, new long[] {2, 2})) {
      assertArrayEquals(new float[] {3f, 4.5f, 6f, 7.5f}, t.toF32Array());
      FloatBuffer out = ByteBuffer.allocateDirect(4 * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
      t.copyToF32(out);
      assertEquals(7.5f, out.get(3));
      assertEquals(0, out.position(), "absolute: the position does not move");
    }
    assertEquals(2, fb.position());
  }

  @Test
  void tensorListHoldsCopies() {
    try (Tensor a = Tensor.fromF32(new float[] {1, 2}, new long[] {2});
         TensorList list = TensorList.of(a, a)) {
      assertEquals(2, list.size());
      long live = Q8.liveHandles();
      list.clear();
      assertEquals(0, list.size());
      assertEquals(live - 2, Q8.liveHandles());
    }
  }

  @Test
  void optionStructsStartFromTheLibraryDefaults() {
    try (Conv2dOptions c = new Conv2dOptions(); PtqOptions p = new PtqOptions();
         ObserverOptions o = new ObserverOptions(); PruneOptions r = new PruneOptions()) {
      assertEquals(1, c.getStrideH());
      assertEquals(1, c.getDilationW());
      assertEquals(1, c.getGroups());
      assertEquals(0, c.getPadTop());
      assertEquals(Scheme.SYMMETRIC_NARROW, p.getWeightScheme());
      assertEquals(Scheme.ASYMMETRIC_U8, p.getActivationScheme());
      assertEquals(ObserverKind.MINMAX, p.getObserver());
      assertEquals(-1, o.getAxis());
      assertEquals(PrunePattern.UNSTRUCTURED, r.getPattern());
      assertEquals(0.5, r.getSparsity());
      assertEquals(2, r.getN());
      assertEquals(4, r.getM());
      c.setStrideW(2);
      assertEquals(2, c.getStrideW());
    }
  }

  @Test
  void pruneMaskKeepsTheLargestHalf() {
    try (PruneOptions o = new PruneOptions();
         Tensor w = Tensor.fromF32(new float[] {0.1f, -5f, 0.2f, 3f, -0.05f, 1f, -2f, 0.3f}, new long[] {2, 4});
         Tensor mask = Q8.pruneMask(w, o)) {
      assertEquals(DType.U8, mask.dtype());
      assertArrayEquals(new byte[] {0, 1, 0, 1, 0, 1, 1, 0}, mask.toU8Array());
      Q8.pruneApply(w, mask);
      assertArrayEquals(new float[] {0f, -5f, 0f, 3f, 0f, 1f, -2f, 0f}, w.toF32Array());
    }
  }
}
