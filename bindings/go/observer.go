package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// ObserverKind is how an observer chooses its range from the batches it sees.
type ObserverKind int

const (
	ObserverMinMax              ObserverKind = 0 // the running min and max
	ObserverMovingAverageMinMax ObserverKind = 1 // moving average of each batch's min and max
	ObserverPercentile          ObserverKind = 2 // clip at a percentile of a histogram
	ObserverEntropy             ObserverKind = 3 // range minimising KL divergence (TensorRT)
	ObserverMSE                 ObserverKind = 4 // range minimising the expected squared error
)

// ObserverOptions configure an observer; DefaultObserverOptions holds the library's defaults.
type ObserverOptions struct {
	Kind              ObserverKind
	Scheme            Scheme
	Axis              int     // -1: per tensor; else one range per index of this axis
	AveragingConstant float32 // moving average weight of the new batch, (0, 1]
	Percentile        float64 // percentile observer, in (50, 100]
	Bins              int     // histogram bins per channel, 128 to 65536
}

// DefaultObserverOptions are the library's defaults (min-max, asymmetric u8, per tensor).
func DefaultObserverOptions() ObserverOptions {
	o := raw.NewObserverOptions()
	defer raw.DeleteObserverOptions(o)
	return ObserverOptions{
		Kind: ObserverKind(o.GetKind()), Scheme: Scheme(o.GetScheme()), Axis: o.GetAxis(),
		AveragingConstant: o.GetAveraging_constant(), Percentile: o.GetPercentile(), Bins: int(o.GetBins()),
	}
}

// Observer collects the range of f32 batches (calibration) and turns it into quantization
// parameters. Close frees it.
type Observer struct {
	mu sync.Mutex
	h  raw.Observer
}

// NewObserver makes an observer with the given options.
func NewObserver(opts ObserverOptions) (o *Observer, err error) {
	err = call(func() {
		ro := raw.NewObserverOptions()
		defer raw.DeleteObserverOptions(ro)
		ro.SetKind(raw.Q8_observer_kind(opts.Kind))
		ro.SetScheme(raw.Q8_scheme(opts.Scheme))
		ro.SetAxis(opts.Axis)
		ro.SetAveraging_constant(opts.AveragingConstant)
		ro.SetPercentile(opts.Percentile)
		ro.SetBins(uint(opts.Bins))
		o = &Observer{h: raw.NewObserver(ro)}
		runtime.SetFinalizer(o, (*Observer).Close)
	})
	return
}

// Close frees the observer. Closing again does nothing; other methods then return ErrClosed.
func (o *Observer) Close() error {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.h != nil {
		raw.DeleteObserver(o.h)
		o.h = nil
		runtime.SetFinalizer(o, nil)
	}
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (o *Observer) Raw() raw.Observer {
	if o == nil {
		return nil
	}
	return o.h
}

func (o *Observer) do(f func(h raw.Observer)) error {
	if o == nil || o.h == nil {
		return closed("Observer")
	}
	defer runtime.KeepAlive(o)
	return call(func() { f(o.h) })
}

// Update feeds one f32 batch.
func (o *Observer) Update(batch *Tensor) error {
	if o == nil || o.h == nil {
		return closed("Observer")
	}
	hs, err := handles(batch)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(batch)
	return o.do(func(h raw.Observer) { h.Update(hs[0]) })
}

// Channels is the number of ranges (1 per tensor); StatusState before the first batch.
func (o *Observer) Channels() (n int, err error) {
	err = o.do(func(h raw.Observer) { n = int(h.Channels()) })
	return
}

// Range is the chosen range of channel c.
func (o *Observer) Range(c int) (min, max float32, err error) {
	err = o.do(func(h raw.Observer) { min, max = h.MinValue(int64(c)), h.MaxValue(int64(c)) })
	return
}

// QParams are the scale and zero point of channel c under the observer's scheme.
func (o *Observer) QParams(c int) (p QParams, err error) {
	err = o.do(func(h raw.Observer) { p = QParams{h.Scale(int64(c)), int32(h.ZeroPoint(int64(c)))} })
	return
}

// Apply sets the parameters on t (per tensor, or per axis on the observer's axis); t's dtype
// must be the scheme's.
func (o *Observer) Apply(t *Tensor) error {
	if o == nil || o.h == nil {
		return closed("Observer")
	}
	hs, err := handles(t)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(t)
	return o.do(func(h raw.Observer) { h.Apply(hs[0]) })
}

// Reset forgets every batch seen; the options stay.
func (o *Observer) Reset() error { return o.do(func(h raw.Observer) { h.Reset() }) }
