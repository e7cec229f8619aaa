package q8;

import java.lang.ref.Cleaner;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.LongConsumer;

/** Plumbing shared by the generated proxies and called from the JNI wrapper. Not public API. */
final class Native {
  private Native() {}

  private static final Cleaner CLEANER = Cleaner.create();

  /**
   * Ownership of one native object. The owning proxy holds one reference (dropped by close() or,
   * if the proxy is collected unclosed, by the Cleaner); a dependent object (a Session on its
   * Model) holds another until it is freed itself. The native object is freed when the last one
   * goes, exactly once.
   */
  static final class Ref implements Runnable {
    private long ptr;
    private final LongConsumer destroy;
    private int holds = 1;
    private Ref dependency;
    private Cleaner.Cleanable cleanable;

    private Ref(long ptr, LongConsumer destroy) {
      this.ptr = ptr;
      this.destroy = destroy;
    }

    /** The owner's reference, dropped once (close() and the Cleaner both end up here). */
    @Override
    public void run() {
      release();
    }

    void close() {
      cleanable.clean();
    }

    /** Keeps `other` alive until this object is freed. */
    void dependOn(Ref other) {
      synchronized (other) {
        if (other.holds == 0)
          throw closed("dependency");
        other.holds++;
      }
      dependency = other;
    }

    private void release() {
      long p = 0;
      synchronized (this) {
        if (holds == 0 || --holds > 0)
          return;
        p = ptr;
        ptr = 0;
      }
      destroy.accept(p);
      Ref d = dependency;
      dependency = null;
      if (d != null)
        d.release();
    }
  }

  /** Registers a freshly made native object: the Cleaner must not see the proxy itself. */
  static Ref own(Object proxy, long ptr, LongConsumer destroy) {
    Ref r = new Ref(ptr, destroy);
    r.cleanable = CLEANER.register(proxy, r);
    return r;
  }

  static Q8Exception closed(String what) {
    return new Q8Exception(Status.ERR_STATE, "Q8_ERR_STATE: " + what + " is closed");
  }

  // ---- called from the JNI wrapper -------------------------------------------------------

  static Q8Exception error(int code, byte[] utf8) {
    return new Q8Exception(code, new String(utf8, StandardCharsets.UTF_8));
  }

  static String string(byte[] utf8) {
    return new String(utf8, StandardCharsets.UTF_8);
  }

  static byte[] utf8(String s) {
    return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
  }

  // ---- direct buffers --------------------------------------------------------------------

  /**
   * The part of a direct buffer between position and limit, as a buffer of its own (slice() of a
   * direct buffer is direct and starts at the position: C sees exactly those elements). Heap
   * buffers have no stable address, and a multi-byte buffer must be in native byte order to hold
   * what C reads.
   */
  static <B extends Buffer> B direct(B b, ByteOrder order, boolean output) {
    if (b == null)
      return null;
    if (!b.isDirect())
      throw new IllegalArgumentException(
          "a heap buffer has no native address: use ByteBuffer.allocateDirect() or an array");
    if (order != null && order != ByteOrder.nativeOrder())
      throw new IllegalArgumentException(
          "the buffer is " + order + "; q8 reads native byte order (" + ByteOrder.nativeOrder() + ")");
    if (output && b.isReadOnly())
      throw new java.nio.ReadOnlyBufferException();
    @SuppressWarnings("unchecked")
    B slice = (B) b.slice();
    return slice;
  }

  // What the direct-buffer overloads pass to JNI: a slice, or null (an empty array).
  static ByteBuffer in(ByteBuffer b) { return direct(b, null, false); }
  static ByteBuffer out(ByteBuffer b) { return direct(b, null, true); }
  static ShortBuffer in(ShortBuffer b) { return b == null ? null : direct(b, b.order(), false); }
  static ShortBuffer out(ShortBuffer b) { return b == null ? null : direct(b, b.order(), true); }
  static IntBuffer in(IntBuffer b) { return b == null ? null : direct(b, b.order(), false); }
  static IntBuffer out(IntBuffer b) { return b == null ? null : direct(b, b.order(), true); }
  static FloatBuffer in(FloatBuffer b) { return b == null ? null : direct(b, b.order(), false); }
  static FloatBuffer out(FloatBuffer b) { return b == null ? null : direct(b, b.order(), true); }
}
