package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// Calibration is what static quantization's observers saw of a model's activations over some
// batches (q8/calibration.h). Calibrations of the same model and settings merge exactly, so
// calibrating pieces of the data (in goroutines, processes, on other machines) and merging them
// gives the model Quantize gives on all of it, bit for bit. Close frees it.
type Calibration struct {
	mu sync.Mutex
	h  raw.Calibration
}

// Calibrate runs the FP32 model over batches (each one f32 tensor per model input, as for
// Quantize) and keeps the activation statistics. From opts it uses Observer, ActivationScheme
// and Percentile; QuantizeCalibrated must get the same ones.
func (m *Model) Calibrate(opts PTQOptions, batches [][]*Tensor) (c *Calibration, err error) {
	if m == nil || m.closed {
		return nil, closed("Model")
	}
	flat := flatten(batches)
	hs, err := handles(flat...)
	if err != nil {
		return nil, err
	}
	defer keepAlive(flat...)
	err = m.do(func(h raw.Model) {
		ro := opts.toRaw()
		defer raw.DeletePtqOptions(ro)
		list := tensorList(hs)
		defer raw.DeleteTensorList(list)
		c = &Calibration{h: h.Calibrate(ro, list)}
		runtime.SetFinalizer(c, (*Calibration).Close)
	})
	return
}

// QuantizeCalibrated is static quantization of m with the activation ranges of c, which must
// come from m with opts' Observer, ActivationScheme and Percentile (else StatusInvalidArgument
// naming what differs). opts.Mode must be PTQStatic; the weight settings are free.
func (m *Model) QuantizeCalibrated(opts PTQOptions, c *Calibration) (q *Model, err error) {
	if c == nil || c.h == nil {
		return nil, closed("Calibration")
	}
	defer runtime.KeepAlive(c)
	err = m.do(func(h raw.Model) {
		ro := opts.toRaw()
		defer raw.DeletePtqOptions(ro)
		q = newModel(h.QuantizeCalibrated(ro, c.h))
	})
	return
}

// Close frees the calibration. Closing again does nothing; other methods then return ErrClosed.
func (c *Calibration) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		raw.DeleteCalibration(c.h)
		c.h = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (c *Calibration) Raw() raw.Calibration {
	if c == nil {
		return nil
	}
	return c.h
}

func (c *Calibration) do(f func(h raw.Calibration)) error {
	if c == nil || c.h == nil {
		return closed("Calibration")
	}
	defer runtime.KeepAlive(c)
	return call(func() { f(c.h) })
}

// Merge makes c the calibration of both data sets (other may be c: its data then counts twice).
// Calibrations of different models or settings fail with StatusInvalidArgument naming what
// differs, ObserverMovingAverageMinMax (order-dependent) with StatusUnsupported; c is then
// unchanged.
func (c *Calibration) Merge(other *Calibration) error {
	if other == nil || other.h == nil {
		return closed("Calibration")
	}
	defer runtime.KeepAlive(other)
	return c.do(func(h raw.Calibration) { h.Merge(other.h) })
}

// Activations are the names of the tensors observed, in the model's order.
func (c *Calibration) Activations() (names []string, err error) {
	err = c.do(func(h raw.Calibration) {
		n := h.ActivationCount()
		names = make([]string, n)
		for i := range names {
			names[i] = h.ActivationName(int64(i))
		}
	})
	return
}

// Bytes is c serialized, to send to another process (an MPI rank, a worker) or to store;
// LoadCalibrationBytes reads it back.
func (c *Calibration) Bytes() (b []byte, err error) {
	var t *Tensor
	err = c.do(func(h raw.Calibration) { t = newTensor(h.ToBytes()) })
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return t.U8()
}

// LoadCalibrationBytes reads what Bytes wrote. The bytes are checked as untrusted input:
// StatusFormat names what is wrong.
func LoadCalibrationBytes(data []byte) (c *Calibration, err error) {
	err = call(func() {
		c = &Calibration{h: raw.CalibrationLoadBytes(data)}
		runtime.SetFinalizer(c, (*Calibration).Close)
	})
	return
}
