package q8

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"q8.dev/q8/raw"
)

// Streaming checkpoint quantization (q8/checkpoint.h) through the Go package, on a safetensors
// file the test writes itself.

type f32Tensor struct {
	name  string
	shape []int64
	data  []float32
}

// writeSafetensors writes the tensors as safetensors: the header's length (u64 little-endian),
// the JSON header, then each tensor's little-endian F32 bytes in order.
func writeSafetensors(t *testing.T, path string, tensors []f32Tensor) {
	t.Helper()
	header := map[string]interface{}{}
	var data []byte
	for _, x := range tensors {
		start := len(data)
		for _, v := range x.data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		header[x.name] = map[string]interface{}{"dtype": "F32", "shape": x.shape, "data_offsets": []int{start, len(data)}}
	}
	text, err := json.Marshal(header)
	must(t, err)
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(text)))
	must(t, os.WriteFile(path, append(append(file, text...), data...), 0o644))
}

// dequantized loads the .q8 file and returns each output (one per checkpoint tensor) by name.
func dequantized(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	m, err := LoadModel(path)
	must(t, err)
	defer m.Close()
	if n, _ := m.InputCount(); n != 0 {
		t.Fatalf("a checkpoint model with %d inputs", n)
	}
	s, err := NewSession(m, 1)
	must(t, err)
	defer s.Close()
	must(t, s.Run())
	n, err := m.OutputCount()
	must(t, err)
	out := map[string][]float32{}
	for i := 0; i < n; i++ {
		name, err := m.OutputName(i)
		must(t, err)
		out[name] = outputF32(t, s.Output, i)
	}
	return out
}

func TestCheckpointConstantsMatchLibrary(t *testing.T) {
	if int(WeightsInt8PerChannel) != int(raw.Q8_WEIGHTS_INT8_PER_CHANNEL) || int(WeightsInt4Grouped) != int(raw.Q8_WEIGHTS_INT4_GROUPED) {
		t.Fatalf("WeightFormat: Go %d %d, library %d %d", WeightsInt8PerChannel, WeightsInt4Grouped,
			raw.Q8_WEIGHTS_INT8_PER_CHANNEL, raw.Q8_WEIGHTS_INT4_GROUPED)
	}
	o := DefaultCheckpointOptions()
	if o.Format != WeightsInt8PerChannel || o.GroupSize != 64 || o.MaxMemory != 512<<20 || o.Threads != 0 ||
		o.MinElements != 4096 || o.KeepFP32 != nil {
		t.Fatalf("DefaultCheckpointOptions() = %+v", o)
	}
}

func TestCheckpointQuantize(t *testing.T) {
	const rows, cols, group = 96, 130, 32 // 130 = 4 groups of 32 and a short one of 2
	r := rand.New(rand.NewSource(7))
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	norm := make([]float32, cols)
	for i := range norm {
		norm[i] = 1 + float32(r.NormFloat64())/50
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "m.safetensors")
	writeSafetensors(t, src, []f32Tensor{{"layer.weight", []int64{rows, cols}, w}, {"layer.norm", []int64{cols}, norm}})

	for _, format := range []WeightFormat{WeightsInt8PerChannel, WeightsInt4Grouped} {
		dst := filepath.Join(dir, "m.q8")
		opts := DefaultCheckpointOptions()
		opts.Format, opts.GroupSize, opts.MaxMemory, opts.MinElements = format, group, 16<<20, 1
		report, err := CheckpointQuantize(src, dst, opts)
		must(t, err)
		st, err := os.Stat(dst)
		must(t, err)
		if report.Tensors != 2 || report.QuantizedTensors != 1 || report.OutputBytes != uint64(st.Size()) ||
			report.InputBytes != 4*(rows*cols+cols) || report.PeakInFlightBytes > opts.MaxMemory {
			t.Fatalf("format %d: report %+v, file of %d bytes", format, report, st.Size())
		}
		got := dequantized(t, dst)
		sameBits(t, "the norm, kept as f32", got["layer.norm"], norm)
		// Each value within half a quantization step of the float: INT8 steps are max|row| / 127,
		// INT4 steps (hi - lo) / 15 over each group's range widened to hold 0.
		span := cols
		levels := float32(127)
		if format == WeightsInt4Grouped {
			span, levels = group, 15
		}
		for i := 0; i < rows; i++ {
			for g := 0; g < cols; g += span {
				end := g + span
				if end > cols {
					end = cols
				}
				part := w[i*cols+g : i*cols+end]
				var lo, hi float32
				for _, v := range part {
					lo, hi = float32(math.Min(float64(lo), float64(v))), float32(math.Max(float64(hi), float64(v)))
				}
				step := hi - lo
				if format == WeightsInt8PerChannel {
					step = float32(math.Max(float64(-lo), float64(hi)))
				}
				step /= levels
				for j, v := range part {
					at := i*cols + g + j
					if diff := math.Abs(float64(got["layer.weight"][at] - v)); diff > float64(step)*0.5*(1+1e-5)+1e-7 {
						t.Fatalf("format %d: weight [%d, %d] = %v, the float is %v: off by more than half a step %v",
							format, i, g+j, got["layer.weight"][at], v, step)
					}
				}
			}
		}
	}

	// Named tensors stay f32, bit for bit.
	dst := filepath.Join(dir, "kept.q8")
	opts := DefaultCheckpointOptions()
	opts.MinElements, opts.KeepFP32 = 1, []string{"layer.weight"}
	report, err := CheckpointQuantize(src, dst, opts)
	must(t, err)
	if report.QuantizedTensors != 0 {
		t.Fatalf("KeepFP32: %d tensors quantized", report.QuantizedTensors)
	}
	sameBits(t, "a tensor kept as f32", dequantized(t, dst)["layer.weight"], w)
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	must(t, os.WriteFile(bad, []byte("\x05\x00\x00\x00\x00\x00\x00\x00{oops"), 0o644))
	out := filepath.Join(dir, "bad.q8")
	_, err := CheckpointQuantize(bad, out, DefaultCheckpointOptions())
	wantError(t, err, StatusFormat, "bad.safetensors")
	_, err = CheckpointQuantize(filepath.Join(dir, "missing.safetensors"), out, DefaultCheckpointOptions())
	wantError(t, err, StatusIO, "missing.safetensors")
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("%d files in the directory after failed runs, want only the input", len(entries))
	}

	good := filepath.Join(dir, "good.safetensors")
	writeSafetensors(t, good, []f32Tensor{{"w", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}}})
	opts := DefaultCheckpointOptions()
	opts.MaxMemory = 1 << 20
	_, err = CheckpointQuantize(good, out, opts)
	wantError(t, err, StatusInvalidArgument, "max_memory")
	opts = DefaultCheckpointOptions()
	opts.GroupSize, opts.Format = 48, WeightsInt4Grouped
	_, err = CheckpointQuantize(good, out, opts)
	wantError(t, err, StatusInvalidArgument, "group_size")
	opts = DefaultCheckpointOptions()
	opts.KeepFP32 = []string{"w\nx"}
	_, err = CheckpointQuantize(good, out, opts)
	wantError(t, err, StatusInvalidArgument, "KeepFP32")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed run left %s behind (%v)", out, err)
	}
}
