// Package q8 is the Go binding of q8, an INT8 quantization engine: tensors, quantization and
// calibration observers, INT8 GEMM (plain, packed and as a dynamic Linear layer), fixed-point
// arithmetic, pruning masks, and whole ONNX models quantized and run.
//
// It is idiomatic Go over q8.dev/q8/raw, the package SWIG generates from bindings/q8.i: every
// call that can fail returns an error (a *Error carrying the library's status and message);
// handles (Tensor, Observer, Model, Session, PackedMatrix, DynamicLinear, Calibration,
// PartitionPlan, Pipeline) are freed by Close, which may be called any number of times, with a
// finalizer as the safety net; a closed object returns an error instead of crashing. Slices go
// to C as they are (no copy): outputs are slices the caller allocates. cgo finds libq8 through
// pkg-config (`pkg-config q8`).
//
// An object must not be closed while another goroutine uses it; distinct objects may be used
// from different goroutines, except a Session, which runs on one goroutine at a time.
package q8

import "q8.dev/q8/raw"

// Version is the library's version string ("MAJOR.MINOR.PATCH").
func Version() string { return raw.Version_string() }

// LiveHandles counts the handles made through the bindings (in any language loaded in this
// process) and not yet freed: 0 once every object is closed or collected.
func LiveHandles() int { return int(raw.Live_handles()) }

// SetThreads bounds q8's worker threads (0: all cores). Results never depend on it.
func SetThreads(n int) error { return fromRaw(raw.Runtime_set_threads(n)) }

// Threads is the bound set by SetThreads (0: all cores).
func Threads() int { return raw.Runtime_threads() }

// ISA is an instruction-set path of q8's kernels; every path gives the same bits.
type ISA int

const (
	ISAAuto       ISA = -1
	ISAScalar     ISA = 0
	ISAAVX2       ISA = 1
	ISAAVX512     ISA = 2
	ISAAVX512VNNI ISA = 3
	ISANEON       ISA = 4
)

func (i ISA) String() string { return raw.Isa_name(raw.Q8_isa(i)) }

// CurrentISA is the path the kernels use.
func CurrentISA() ISA { return ISA(raw.Runtime_isa()) }

// SetISA forces a path (ISAAuto: the best the CPU has); StatusUnsupported if the CPU lacks it.
func SetISA(i ISA) error { return fromRaw(raw.Runtime_set_isa(raw.Q8_isa(i))) }

// ISASupported tells whether this CPU and build can run a path.
func ISASupported(i ISA) bool { return raw.Runtime_isa_supported(raw.Q8_isa(i)) != 0 }

// DType is a tensor's element type.
type DType int

const (
	F32 DType = 0
	S8  DType = 1
	U8  DType = 2
	S32 DType = 3
)

func (d DType) String() string { return raw.Dtype_name(raw.Q8_dtype(d)) }

// Size is the bytes of one element (0 for an unknown dtype).
func (d DType) Size() int { return int(raw.Dtype_size(raw.Q8_dtype(d))) }

// Scheme is how a real range maps to integers (quant.h).
type Scheme int

const (
	SymmetricNarrow Scheme = 0 // s8 in [-127, 127], zero point 0
	Symmetric       Scheme = 1 // s8 in [-128, 127], zero point 0
	AsymmetricU8    Scheme = 2 // u8 in [0, 255]
	AsymmetricS8    Scheme = 3 // s8 in [-128, 127]
)

func (s Scheme) String() string { return raw.Scheme_name(raw.Q8_scheme(s)) }

// QParams are the scale and zero point of one quantized range.
type QParams struct {
	Scale     float32
	ZeroPoint int32
}
