package q8

import (
	"strconv"
	"strings"

	"q8.dev/q8/raw"
)

// WeightFormat is how CheckpointQuantize stores a quantized 2-D tensor.
type WeightFormat int

const (
	WeightsInt8PerChannel WeightFormat = 0 // s8 in [-127, 127], one scale per row
	WeightsInt4Grouped    WeightFormat = 1 // 4-bit codes, a scale and zero point per GroupSize values of a row
)

// CheckpointOptions configure CheckpointQuantize; DefaultCheckpointOptions holds the library's
// defaults.
type CheckpointOptions struct {
	Format      WeightFormat
	GroupSize   int      // WeightsInt4Grouped: 32, 64 or 128
	MaxMemory   uint64   // bytes in flight (input pages, buffers), at least 16 MiB
	Threads     int      // 0: the SetThreads setting
	MinElements uint64   // smaller 2-D tensors stay f32
	KeepFP32    []string // tensors to leave unquantized, by name
}

// DefaultCheckpointOptions are the library's defaults (INT8 per channel, 512 MiB in flight).
func DefaultCheckpointOptions() CheckpointOptions {
	o := raw.NewCheckpointOptions()
	defer raw.DeleteCheckpointOptions(o)
	return CheckpointOptions{Format: WeightFormat(o.GetFormat()), GroupSize: int(o.GetGroup_size()),
		MaxMemory: o.GetMax_memory(), Threads: int(o.GetThreads()), MinElements: o.GetMin_elements()}
}

// CheckpointReport is what a CheckpointQuantize run did.
type CheckpointReport struct {
	InputBytes        uint64 // tensor bytes read
	OutputBytes       uint64 // size of the .q8 file written
	Tensors           int    // tensors in the checkpoint
	QuantizedTensors  int
	PeakInFlightBytes uint64 // the memory limiter's high-water mark (<= MaxMemory)
	Seconds           float64
}

// CheckpointQuantize quantizes the safetensors file input into the .q8 file output, streaming:
// the input is memory-mapped and never held whole, and output appears only once complete (written
// to a temporary file, then renamed). Loaded with LoadModel, output is a model with no inputs and
// one f32 output per checkpoint tensor (the dequantized weights), under the checkpoint's names.
// StatusFormat names what is wrong with a malformed input, StatusIO carries the system's error.
func CheckpointQuantize(input, output string, opts CheckpointOptions) (r CheckpointReport, err error) {
	for _, name := range opts.KeepFP32 {
		if strings.ContainsAny(name, "\n\x00") { // the facade takes the names one per line
			return r, &Error{Status: StatusInvalidArgument, Message: "KeepFP32 name " + strconv.Quote(name) + " holds a newline or NUL"}
		}
	}
	err = call(func() {
		ro := raw.NewCheckpointOptions()
		defer raw.DeleteCheckpointOptions(ro)
		ro.SetFormat(raw.Q8_weight_format(opts.Format))
		ro.SetGroup_size(uint(opts.GroupSize))
		ro.SetMax_memory(opts.MaxMemory)
		ro.SetThreads(int64(opts.Threads))
		ro.SetMin_elements(opts.MinElements)
		rr := raw.Checkpoint_quantize(input, output, ro, strings.Join(opts.KeepFP32, "\n"))
		defer raw.DeleteCheckpointReport(rr)
		r = CheckpointReport{InputBytes: rr.GetInput_bytes(), OutputBytes: rr.GetOutput_bytes(),
			Tensors: int(rr.GetTensors()), QuantizedTensors: int(rr.GetQuantized_tensors()),
			PeakInFlightBytes: rr.GetPeak_in_flight_bytes(), Seconds: rr.GetSeconds()}
	})
	return
}
