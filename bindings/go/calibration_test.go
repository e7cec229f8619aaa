package q8

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Calibrations (q8/calibration.h) through the Go package: calibrating two halves of the data
// and merging gives the model one calibration over all of it gives, byte for byte.

// savedBytes is the .q8 file m saves.
func savedBytes(t *testing.T, m *Model) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.q8")
	must(t, m.Save(path))
	b, err := os.ReadFile(path)
	must(t, err)
	return b
}

// What an MPI rank or worker sends: a piece's bytes, loaded elsewhere and merged, quantize like
// one calibration of everything.
func TestCalibrationBytesTravel(t *testing.T) {
	train, _ := loadDigits(t)
	fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_cnn.onnx"))
	must(t, err)
	defer fp32.Close()
	batches := calibrationBatches(t, train, 4)
	defer closeBatches(t, batches)
	opts := DefaultPTQOptions()
	opts.Observer = ObserverEntropy
	a, err := fp32.Calibrate(opts, batches[:2])
	must(t, err)
	b, err := fp32.Calibrate(opts, batches[2:])
	must(t, err)
	sent, err := b.Bytes()
	must(t, err)
	received, err := LoadCalibrationBytes(sent)
	must(t, err)
	again, err := received.Bytes()
	must(t, err)
	if len(sent) == 0 || !bytes.Equal(sent, again) {
		t.Fatalf("calibration bytes do not round-trip (%d and %d bytes)", len(sent), len(again))
	}
	must(t, a.Merge(received))
	merged, err := fp32.QuantizeCalibrated(opts, a)
	must(t, err)
	direct, err := fp32.Quantize(opts, batches)
	must(t, err)
	if !bytes.Equal(savedBytes(t, merged), savedBytes(t, direct)) {
		t.Fatal("bytes sent, loaded and merged quantize to another model than one calibration of all")
	}
	_, err = LoadCalibrationBytes([]byte("not a calibration"))
	wantError(t, err, StatusFormat, "Q8CALIB")
	closeAll(t, a, b, received, merged, direct)
}

func TestCalibrationMergesExactly(t *testing.T) {
	train, test := loadDigits(t)
	fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_cnn.onnx"))
	must(t, err)
	defer fp32.Close()
	batches := calibrationBatches(t, train, 4)
	defer closeBatches(t, batches)
	x := batchTensor(t, test, 0, len(test.y), true)
	defer x.Close()
	logits := func(m *Model) []float32 {
		s, err := NewSession(m, len(test.y))
		must(t, err)
		defer s.Close()
		must(t, s.Run(x))
		return outputF32(t, s.Output, 0)
	}

	for _, observer := range []ObserverKind{ObserverMinMax, ObserverEntropy} {
		opts := DefaultPTQOptions()
		opts.Observer = observer
		a, err := fp32.Calibrate(opts, batches[:2])
		must(t, err)
		b, err := fp32.Calibrate(opts, batches[2:])
		must(t, err)
		all, err := fp32.Calibrate(opts, batches)
		must(t, err)
		names, err := a.Activations()
		must(t, err)
		other, err := b.Activations()
		must(t, err)
		if len(names) == 0 || strings.Join(names, "\n") != strings.Join(other, "\n") {
			t.Fatalf("%v: activations %q and %q", observer, names, other)
		}
		must(t, a.Merge(b))

		merged, err := fp32.QuantizeCalibrated(opts, a)
		must(t, err)
		fromAll, err := fp32.QuantizeCalibrated(opts, all)
		must(t, err)
		direct, err := fp32.Quantize(opts, batches)
		must(t, err)
		want := savedBytes(t, fromAll)
		if !bytes.Equal(savedBytes(t, merged), want) {
			t.Fatalf("%v: the merged halves quantize to other bytes than one calibration of all batches", observer)
		}
		if !bytes.Equal(savedBytes(t, direct), want) {
			t.Fatalf("%v: QuantizeCalibrated and Quantize on the same batches differ", observer)
		}
		sameBits(t, "merged vs one calibration", logits(merged), logits(fromAll))

		closeAll(t, a, b, all, merged, fromAll, direct)
	}

	// Quantizing needs the calibration's own settings.
	opts := DefaultPTQOptions()
	c, err := fp32.Calibrate(opts, batches[:1])
	must(t, err)
	entropy := opts
	entropy.Observer = ObserverEntropy
	_, err = fp32.QuantizeCalibrated(entropy, c)
	wantError(t, err, StatusInvalidArgument, "observer")
	dynamic := opts
	dynamic.Mode = PTQDynamic
	_, err = fp32.QuantizeCalibrated(dynamic, c)
	wantError(t, err, StatusInvalidArgument, "Q8_PTQ_STATIC")
	// Different settings or models do not merge, and leave the calibration as it was.
	e, err := fp32.Calibrate(entropy, batches[:1])
	must(t, err)
	wantError(t, c.Merge(e), StatusInvalidArgument, "observer")
	mlp, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_mlp.onnx"))
	must(t, err)
	flat := batchTensor(t, train, 0, 64, false)
	m, err := mlp.Calibrate(opts, [][]*Tensor{{flat}})
	must(t, err)
	wantError(t, c.Merge(m), StatusInvalidArgument, "different models")
	_, err = mlp.QuantizeCalibrated(opts, c)
	wantError(t, err, StatusInvalidArgument, "another model")
	// Moving averages depend on the order of the batches: they calibrate but do not merge.
	moving := opts
	moving.Observer = ObserverMovingAverageMinMax
	ma, err := fp32.Calibrate(moving, batches[:1])
	must(t, err)
	wantError(t, ma.Merge(ma), StatusUnsupported, "moving-average")
	// Bad batches.
	_, err = fp32.Calibrate(opts, nil)
	wantError(t, err, StatusInvalidArgument, "batch_count")
	_, err = fp32.Calibrate(opts, [][]*Tensor{{flat}})
	wantError(t, err, StatusShape, "shape")
	closeAll(t, e, m, ma, mlp, flat)

	// Closed objects.
	must(t, c.Close())
	must(t, c.Close())
	closedToo, err := fp32.Calibrate(opts, batches[:1])
	must(t, err)
	wantClosed(t, c.Merge(closedToo), "Calibration")
	wantClosed(t, closedToo.Merge(c), "Calibration")
	_, err = c.Activations()
	wantClosed(t, err, "Calibration")
	_, err = fp32.QuantizeCalibrated(opts, c)
	wantClosed(t, err, "Calibration")
	must(t, closedToo.Close())
	var none *Calibration
	wantClosed(t, none.Merge(none), "Calibration")
}
