package q8.tests;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import q8.Q8;

/** Runs last (junit-platform.properties orders classes by @Order): every handle the tests made
 * through the bindings is gone, first because everything was closed, then also after a GC. */
@Order(Integer.MAX_VALUE)
class LeakTest {
  static boolean collectUntil(long target) throws InterruptedException {
    for (int i = 0; i < 200 && Q8.liveHandles() != target; i++) {
      System.gc();
      Thread.sleep(20);
    }
    return Q8.liveHandles() == target;
  }

  @Test
  void noHandleOutlivesTheTests() throws InterruptedException {
    assertEquals(0, Q8.liveHandles(), "handles still open after every test closed its objects");
    assertTrue(collectUntil(0));
    assertEquals(0, Q8.liveHandles(), "after a collection");
  }
}
