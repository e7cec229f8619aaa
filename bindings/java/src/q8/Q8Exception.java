package q8;

/**
 * A q8 call failed: the library's status code and its message (q8_last_error(), prefixed with the
 * status name, e.g. "Q8_ERR_SHAPE: array holds 3 elements; expected 4"). Also thrown for calls on
 * a closed object (status {@link Status#ERR_STATE}, "Tensor is closed").
 */
public class Q8Exception extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int code;

  public Q8Exception(Status status, String message) {
    this(status.swigValue(), message);
  }

  public Q8Exception(int code, String message) {
    super(message);
    this.code = code;
  }

  /** The status, or null for a code this version of the enum does not know. */
  public Status getStatus() {
    for (Status s : Status.values())
      if (s.swigValue() == code)
        return s;
    return null;
  }

  /** The raw q8_status value. */
  public int getCode() {
    return code;
  }
}
