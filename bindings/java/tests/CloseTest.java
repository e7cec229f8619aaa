package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;
import q8.*;

/** Deterministic close: idempotent, and a closed object raises instead of crashing. */
class CloseTest {
  static void closedError(String what, org.junit.jupiter.api.function.Executable call) {
    Q8Exception e = assertThrows(Q8Exception.class, call);
    assertEquals(Status.ERR_STATE, e.getStatus());
    assertTrue(e.getMessage().endsWith(what + " is closed"), e.getMessage());
  }

  @Test
  void useAfterCloseRaisesAndDoubleCloseIsANoOp() {
    long live = Q8.liveHandles();
    Tensor t = new Tensor(DType.F32, new long[] {3});
    assertEquals(live + 1, Q8.liveHandles());
    assertFalse(t.isClosed());
    t.close();
    assertTrue(t.isClosed());
    assertEquals(live, Q8.liveHandles());
    t.close();
    t.delete();
    assertEquals(live, Q8.liveHandles());
    closedError("Tensor", t::numel);
    closedError("Tensor", () -> t.copyToF32(new float[3]));
    closedError("Tensor", () -> t.setQParams(1f, 0));
    closedError("Tensor", t::clone);
    assertEquals("Tensor(closed)", t.toString());
  }

  @Test
  void closedArgumentsAreRefused() {
    Tensor x = Tensor.fromF32(new float[] {1, 2}, new long[] {2});
    try (Tensor y = new Tensor(DType.S8, new long[] {2}); TensorList list = new TensorList()) {
      y.setQParams(0.1f, 0);
      x.close();
      closedError("Tensor", () -> Q8.quantize(x, y));
      closedError("Tensor", () -> Q8.quantizeTensor(x, Scheme.SYMMETRIC, -1));
      closedError("Tensor", () -> list.add(x));
      try (Observer obs = new Observer(ObserverKind.MINMAX, Scheme.SYMMETRIC, -1)) {
        closedError("Tensor", () -> obs.update(x));
      }
    }
  }

  @Test
  void everyKindOfObjectGuardsItself() {
    Observer obs = new Observer(ObserverKind.MINMAX, Scheme.SYMMETRIC, -1);
    obs.close();
    closedError("Observer", obs::channels);
    PackedMatrix p = new PackedMatrix(2, 2, new byte[4], false, null);
    p.close();
    closedError("PackedMatrix", () -> p.multiplyS32(1, new byte[2], 0, null, new int[2]));
    DynamicLinear d = new DynamicLinear(1, 1, new float[] {1f}, null);
    d.close();
    closedError("DynamicLinear", d::weightBytes);
    TensorList l = new TensorList();
    l.close();
    closedError("TensorList", l::size);
    QParams q = Q8.qparamsFromRange(Scheme.ASYMMETRIC_U8, -1f, 1f);
    q.close();
    closedError("QParams", q::getScale);
    PtqOptions o = new PtqOptions();
    o.close();
    closedError("PtqOptions", () -> o.setMode(PtqMode.DYNAMIC));
  }

  @Test
  void tryWithResourcesFreesEverything() {
    long live = Q8.liveHandles();
    Tensor kept;
    try (Tensor a = Tensor.fromF32(new float[] {1, -1}, new long[] {2});
         Tensor q = Q8.quantizeTensor(a, Scheme.SYMMETRIC, -1);
         Observer obs = new Observer(ObserverKind.MINMAX, Scheme.SYMMETRIC, -1);
         PackedMatrix p = new PackedMatrix(1, 1, new byte[] {1}, false, null)) {
      kept = q;
      assertEquals(live + 4, Q8.liveHandles());
      obs.update(a);
      assertEquals(1, obs.channels());
      assertEquals(1, p.k());
    }
    assertTrue(kept.isClosed());
    assertEquals(live, Q8.liveHandles());
  }

  @Test
  void sessionKeepsItsModel() throws Exception {
    long live = Q8.liveHandles();
    Model m = Model.loadOnnx(Digits.data("models", "digits_mlp.onnx").toString());
    Session s = new Session(m, 2);
    m.close();  // the session still holds the model's native memory
    closedError("Model", m::nodeCount);
    closedError("Model", () -> new Session(m, 1));
    assertEquals(live + 2, Q8.liveHandles());
    try (Tensor x = Tensor.fromF32(new float[2 * 64], new long[] {2, 64})) {
      s.runOne(x);
      assertEquals(20, s.outputF32(0).length);
    }
    s.close();
    assertEquals(live, Q8.liveHandles(), "the model goes with its last session");
    closedError("Session", () -> s.output(0));
  }

  /** A proxy that is never closed is freed by the Cleaner once collected. */
  @Test
  void cleanerFreesWhatWasNotClosed() throws Exception {
    long live = Q8.liveHandles();
    assertEquals(live + 3, makeGarbage());
    assertTrue(LeakTest.collectUntil(live), "Cleaner did not free the unclosed objects: " + Q8.liveHandles());
  }

  /** Three handles, unreachable once this returns; the count while they are still referenced. */
  private static long makeGarbage() throws Exception {
    Tensor t = new Tensor(DType.U8, new long[] {16});
    Model m = Model.loadOnnx(Digits.data("models", "digits_mlp.onnx").toString());
    Session s = new Session(m, 1);  // collected in any order: the session's Cleaner holds the model
    long count = Q8.liveHandles();
    java.lang.ref.Reference.reachabilityFence(t);
    java.lang.ref.Reference.reachabilityFence(s);
    return count;
  }
}
