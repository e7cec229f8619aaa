// The exception every failing q8 call throws in C# (bindings/csharp/csharp.swg raises it from
// the native side through a registered callback).
namespace Q8 {

/// <summary>A q8 call failed. <see cref="Status"/> is the q8_status code; the message is
/// "Q8_ERR_...: " followed by q8's own explanation (q8_last_error()), which names the argument at
/// fault.</summary>
public class Q8Exception : System.Exception {
  /// <summary>Why the call failed (never <see cref="Q8.Status.Ok"/>).</summary>
  public Status Status { get; private set; }

  public Q8Exception(Status status, string message) : base(message) {
    Status = status;
  }
}

}
