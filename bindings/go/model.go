package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// Model is an immutable graph with its weights: an ONNX model (FP32, QDQ or QOperator) or a .q8
// file, quantized with Quantize and run through a Session. Close frees it; a model closed while
// sessions of it are open stays in memory until the last of them is closed.
type Model struct {
	mu       sync.Mutex
	h        raw.Model // nil once freed
	closed   bool      // Close was called: methods return ErrClosed
	sessions int       // open sessions, which need h
}

func newModel(h raw.Model) *Model {
	m := &Model{h: h}
	runtime.SetFinalizer(m, (*Model).Close)
	return m
}

// LoadONNX loads an ONNX file.
func LoadONNX(path string) (m *Model, err error) {
	err = call(func() { m = newModel(raw.ModelLoadOnnx(path)) })
	return
}

// LoadONNXBytes loads an ONNX model from memory (copied as needed).
func LoadONNXBytes(data []byte) (m *Model, err error) {
	err = call(func() { m = newModel(raw.ModelLoadOnnxBytes(data)) })
	return
}

// LoadModel loads a .q8 file (memory-mapped; every offset and checksum verified first).
func LoadModel(path string) (m *Model, err error) {
	err = call(func() { m = newModel(raw.ModelLoad(path)) })
	return
}

// LoadModelBytes loads a .q8 model from memory (copied).
func LoadModelBytes(data []byte) (m *Model, err error) {
	err = call(func() { m = newModel(raw.ModelLoadBytes(data)) })
	return
}

// Close frees the model (once its sessions are closed). Closing again does nothing; other
// methods then return ErrClosed.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		runtime.SetFinalizer(m, nil)
		m.freeIfUnused()
	}
	return nil
}

// freeIfUnused frees the handle of a closed model without sessions (m.mu held).
func (m *Model) freeIfUnused() {
	if m.closed && m.sessions == 0 && m.h != nil {
		raw.DeleteModel(m.h)
		m.h = nil
	}
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (m *Model) Raw() raw.Model {
	if m == nil || m.closed {
		return nil
	}
	return m.h
}

func (m *Model) do(f func(h raw.Model)) error {
	if m == nil || m.closed {
		return closed("Model")
	}
	defer runtime.KeepAlive(m)
	return call(func() { f(m.h) })
}

// Save writes a .q8 file atomically (a temporary file renamed over path).
func (m *Model) Save(path string) error { return m.do(func(h raw.Model) { h.Save(path) }) }

// ExportONNX writes the model as ONNX (opset 13, quantized operators in QDQ form) atomically,
// for ONNX Runtime and other ONNX tools; q8 reads it back into the same operators.
func (m *Model) ExportONNX(path string) error { return m.do(func(h raw.Model) { h.ExportOnnx(path) }) }

// InputCount is the number of graph inputs.
func (m *Model) InputCount() (n int, err error) {
	err = m.do(func(h raw.Model) { n = int(h.InputCount()) })
	return
}

// OutputCount is the number of graph outputs.
func (m *Model) OutputCount() (n int, err error) {
	err = m.do(func(h raw.Model) { n = int(h.OutputCount()) })
	return
}

// InputName is the name of input i.
func (m *Model) InputName(i int) (s string, err error) {
	err = m.do(func(h raw.Model) { s = h.InputName(int64(i)) })
	return
}

// OutputName is the name of output i.
func (m *Model) OutputName(i int) (s string, err error) {
	err = m.do(func(h raw.Model) { s = h.OutputName(int64(i)) })
	return
}

// NodeCount is the number of operators.
func (m *Model) NodeCount() (n int, err error) {
	err = m.do(func(h raw.Model) { n = int(h.NodeCount()) })
	return
}

// WeightBytes is the bytes of weights as stored.
func (m *Model) WeightBytes() (n int, err error) {
	err = m.do(func(h raw.Model) { n = int(h.WeightBytes()) })
	return
}

// WeightSparsity is the fraction of zero weights over every Conv, Gemm and MatMul.
func (m *Model) WeightSparsity() (s float64, err error) {
	err = m.do(func(h raw.Model) { s = h.WeightSparsity() })
	return
}

// Describe is one line per operator (name, type, precision, tensors), or JSON.
func (m *Model) Describe(json bool) (s string, err error) {
	err = m.do(func(h raw.Model) { s = h.Describe(json) })
	return
}

// Extract is a new model that computes only tensor name and what it needs (feature extraction,
// q8_model_extract). On a statically quantized model the FP32 model's activation names work too;
// with dequantize an INT8 tensor comes out as f32, else as its integers. The new model shares
// the weights, so m may be closed first.
func (m *Model) Extract(name string, dequantize bool) (e *Model, err error) {
	err = m.do(func(h raw.Model) { e = newModel(h.Extract(name, dequantize)) })
	return
}

// Append is a new model: head (a single-input model) fed from m's tensor connect, with the
// head's outputs (q8_model_append). An FP32 head fits an INT8 model: connected by the FP32 name
// of an INT8 activation, it reads it dequantized. Weights are shared; either model may be
// closed afterwards.
func (m *Model) Append(head *Model, connect string) (a *Model, err error) {
	if head == nil || head.closed {
		return nil, closed("Model")
	}
	defer runtime.KeepAlive(head)
	err = m.do(func(h raw.Model) { a = newModel(h.Append(head.h, connect)) })
	return
}

// PTQMode is the post-training quantization mode.
type PTQMode int

const (
	PTQDynamic    PTQMode = 0 // INT8 weights; activations quantized per batch at run time
	PTQStatic     PTQMode = 1 // INT8 weights and activations, ranges calibrated once
	PTQWeightOnly PTQMode = 2 // INT8 weights dequantized when a session is prepared
)

// PTQOptions configure Model.Quantize; DefaultPTQOptions holds the library's defaults.
type PTQOptions struct {
	Mode             PTQMode
	PerChannel       bool   // one weight scale per output channel
	WeightScheme     Scheme // default SymmetricNarrow
	ActivationScheme Scheme // default AsymmetricU8
	Observer         ObserverKind
	Percentile       float64 // for ObserverPercentile
}

// DefaultPTQOptions are the library's defaults: static, per-channel s8 weights, u8 activations,
// min-max observers.
func DefaultPTQOptions() PTQOptions {
	o := raw.NewPtqOptions()
	defer raw.DeletePtqOptions(o)
	return PTQOptions{
		Mode: PTQMode(o.GetMode()), PerChannel: o.GetPer_channel() != 0,
		WeightScheme: Scheme(o.GetWeight_scheme()), ActivationScheme: Scheme(o.GetActivation_scheme()),
		Observer: ObserverKind(o.GetObserver()), Percentile: o.GetPercentile(),
	}
}

// Quantize makes a quantized copy. Static mode calibrates on batches, each holding one f32
// tensor per model input (in order); the other modes take none.
func (m *Model) Quantize(opts PTQOptions, batches [][]*Tensor) (q *Model, err error) {
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
		q = newModel(h.Quantize(ro, list))
	})
	return
}

// toRaw is o as the library's options struct (free it with raw.DeletePtqOptions).
func (o PTQOptions) toRaw() raw.PtqOptions {
	ro := raw.NewPtqOptions()
	ro.SetMode(raw.Q8_ptq_mode(o.Mode))
	perChannel := 0
	if o.PerChannel {
		perChannel = 1
	}
	ro.SetPer_channel(perChannel)
	ro.SetWeight_scheme(raw.Q8_scheme(o.WeightScheme))
	ro.SetActivation_scheme(raw.Q8_scheme(o.ActivationScheme))
	ro.SetObserver(raw.Q8_observer_kind(o.Observer))
	ro.SetPercentile(o.Percentile)
	return ro
}

// flatten lists the tensors of batches in order: batch by batch, input by input.
func flatten(batches [][]*Tensor) []*Tensor {
	var flat []*Tensor
	for _, b := range batches {
		flat = append(flat, b...)
	}
	return flat
}

// runner is what the raw Session and Pipeline share: a run on one input, or on a list.
type runner interface {
	Run(raw.TensorList)
	RunOne(raw.Tensor)
}

// runInputs runs h on the inputs: a single one as it is, several copied into a list first.
func runInputs(h runner, hs []raw.Tensor) {
	if len(hs) == 1 {
		h.RunOne(hs[0])
		return
	}
	list := tensorList(hs)
	defer raw.DeleteTensorList(list)
	h.Run(list)
}

// tensorList copies tensors into the facade's list (it holds clones, freed with the list).
func tensorList(hs []raw.Tensor) raw.TensorList {
	list := raw.NewTensorList()
	for _, h := range hs {
		list.Add(h)
	}
	return list
}

// Session is a model prepared for one batch size: shapes resolved, weights packed once,
// activation buffers allocated. It keeps its model alive. Not for concurrent use: make one per
// goroutine (sessions of one model share its weights). Close frees it.
type Session struct {
	mu    sync.Mutex
	h     raw.Session
	model *Model
}

// NewSession prepares model for inputs whose dynamic dimension (the batch) is batch.
func NewSession(model *Model, batch int) (s *Session, err error) {
	if model == nil {
		return nil, closed("Model")
	}
	model.mu.Lock()
	defer model.mu.Unlock()
	err = model.do(func(h raw.Model) { s = &Session{h: raw.NewSession(h, int64(batch)), model: model} })
	if err != nil {
		return nil, err
	}
	model.sessions++
	runtime.SetFinalizer(s, (*Session).Close)
	return s, nil
}

// Close frees the session and lets its model go. Closing again does nothing; other methods then
// return ErrClosed.
func (s *Session) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		return nil
	}
	raw.DeleteSession(s.h)
	s.h = nil
	runtime.SetFinalizer(s, nil)
	m := s.model
	s.model = nil
	m.mu.Lock()
	m.sessions--
	m.freeIfUnused()
	m.mu.Unlock()
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (s *Session) Raw() raw.Session {
	if s == nil {
		return nil
	}
	return s.h
}

func (s *Session) do(f func(h raw.Session)) error {
	if s == nil || s.h == nil {
		return closed("Session")
	}
	defer runtime.KeepAlive(s)
	return call(func() { f(s.h) })
}

// Run runs the model on one tensor per input, in order, each of the input's dtype and the
// session's shape. A single input is passed as it is; several are copied into a list first.
func (s *Session) Run(inputs ...*Tensor) error {
	if s == nil || s.h == nil {
		return closed("Session")
	}
	hs, err := handles(inputs...)
	if err != nil {
		return err
	}
	defer keepAlive(inputs...)
	return s.do(func(h raw.Session) { runInputs(h, hs) })
}

// Output is a copy of output i of the last run (StatusState before the first run).
func (s *Session) Output(i int) (t *Tensor, err error) {
	err = s.do(func(h raw.Session) { t = newTensor(h.Output(int64(i))) })
	return
}

// Tensor is a copy of any named tensor of the last run (an intermediate activation).
func (s *Session) Tensor(name string) (t *Tensor, err error) {
	err = s.do(func(h raw.Session) { t = newTensor(h.Tensor(name)) })
	return
}
