package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// PartitionBalance is what a plan with a partition count equalizes.
type PartitionBalance int

const (
	PartitionByBytes PartitionBalance = 0 // constant (weight) bytes per partition
	PartitionByFlops PartitionBalance = 1 // arithmetic per partition, counted at Batch rows
)

// PartitionOptions configure NewPartitionPlan: a Count, a MaxBytes budget per partition, or
// both (q8/partition.h). DefaultPartitionOptions holds the library's defaults.
type PartitionOptions struct {
	Count    int    // exactly this many partitions (0: as few as MaxBytes allows)
	MaxBytes uint64 // constant bytes per partition at most (0: no budget)
	Balance  PartitionBalance
	Batch    int // rows for counting FLOPs
}

// DefaultPartitionOptions are the library's defaults (no count, no budget: set one).
func DefaultPartitionOptions() PartitionOptions {
	o := raw.NewPartitionOptions()
	defer raw.DeletePartitionOptions(o)
	return PartitionOptions{Count: int(o.GetCount()), MaxBytes: o.GetMax_bytes(),
		Balance: PartitionBalance(o.GetBalance()), Batch: int(o.GetBatch())}
}

// PartitionPlan cuts a model into contiguous runs of nodes, each a model of its own (Model(i))
// whose inputs are graph inputs or earlier partitions' tensors. It keeps what it needs of the
// model (weights shared), so the model may be closed first. Close frees it.
type PartitionPlan struct {
	mu sync.Mutex
	h  raw.PartitionPlan
}

func newPartitionPlan(h raw.PartitionPlan) *PartitionPlan {
	p := &PartitionPlan{h: h}
	runtime.SetFinalizer(p, (*PartitionPlan).Close)
	return p
}

// NewPartitionPlan plans m by opts. A count above the node count, or a budget that cannot be
// met, fails with StatusShape.
func NewPartitionPlan(m *Model, opts PartitionOptions) (p *PartitionPlan, err error) {
	err = m.do(func(h raw.Model) {
		ro := raw.NewPartitionOptions()
		defer raw.DeletePartitionOptions(ro)
		ro.SetCount(int64(opts.Count))
		ro.SetMax_bytes(opts.MaxBytes)
		ro.SetBalance(raw.Q8_partition_balance(opts.Balance))
		ro.SetBatch(int64(opts.Batch))
		p = newPartitionPlan(raw.PartitionPlanCreate(h, ro))
	})
	return
}

// LoadPartitionPlan reads a plan of m saved by Save (perhaps edited by hand); StatusFormat names
// what is wrong with it, StatusIO a file that cannot be read.
func LoadPartitionPlan(m *Model, path string) (p *PartitionPlan, err error) {
	err = m.do(func(h raw.Model) { p = newPartitionPlan(raw.PartitionPlanLoad(h, path)) })
	return
}

// LoadPartitionPlanBytes is LoadPartitionPlan from the JSON in memory.
func LoadPartitionPlanBytes(m *Model, json []byte) (p *PartitionPlan, err error) {
	err = m.do(func(h raw.Model) { p = newPartitionPlan(raw.PartitionPlanLoadBytes(h, json)) })
	return
}

// Close frees the plan (pipelines made from it keep what they need). Closing again does
// nothing; other methods then return ErrClosed.
func (p *PartitionPlan) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h != nil {
		raw.DeletePartitionPlan(p.h)
		p.h = nil
		runtime.SetFinalizer(p, nil)
	}
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (p *PartitionPlan) Raw() raw.PartitionPlan {
	if p == nil {
		return nil
	}
	return p.h
}

func (p *PartitionPlan) do(f func(h raw.PartitionPlan)) error {
	if p == nil || p.h == nil {
		return closed("PartitionPlan")
	}
	defer runtime.KeepAlive(p)
	return call(func() { f(p.h) })
}

// Count is the number of partitions.
func (p *PartitionPlan) Count() (n int, err error) {
	err = p.do(func(h raw.PartitionPlan) { n = int(h.Count()) })
	return
}

// PartitionInfo is what one partition holds.
type PartitionInfo struct {
	FirstNode   int      // index of its first node in the model's node order
	Nodes       int      // its node count
	WeightBytes uint64   // bytes of the constants its nodes read
	Flops       uint64   // multiply-adds x 2 at the plan's batch
	Inputs      []string // tensors it reads from graph inputs or earlier partitions
	Outputs     []string // tensors it hands to later partitions or the graph outputs
}

// Info describes partition i.
func (p *PartitionPlan) Info(i int) (info PartitionInfo, err error) {
	err = p.do(func(h raw.PartitionPlan) {
		at := int64(i)
		info = PartitionInfo{FirstNode: int(h.FirstNode(at)), Nodes: int(h.NodeCount(at)),
			WeightBytes: h.WeightBytes(at), Flops: h.Flops(at),
			Inputs: make([]string, h.InputCount(at)), Outputs: make([]string, h.OutputCount(at))}
		for j := range info.Inputs {
			info.Inputs[j] = h.InputName(at, int64(j))
		}
		for j := range info.Outputs {
			info.Outputs[j] = h.OutputName(at, int64(j))
		}
	})
	return
}

// Model is partition i as a model of its own (weights shared with the plan), to run, save or
// send elsewhere.
func (p *PartitionPlan) Model(i int) (m *Model, err error) {
	err = p.do(func(h raw.PartitionPlan) { m = newModel(h.Model(int64(i))) })
	return
}

// Describe is the plan as a table (one row per partition), or as the JSON Save writes.
func (p *PartitionPlan) Describe(json bool) (s string, err error) {
	err = p.do(func(h raw.PartitionPlan) { s = h.Describe(json) })
	return
}

// Save writes the plan as JSON, atomically (a temporary file renamed over path).
func (p *PartitionPlan) Save(path string) error {
	return p.do(func(h raw.PartitionPlan) { h.Save(path) })
}

// PipelineOptions configure NewPipeline; DefaultPipelineOptions holds the library's defaults.
type PipelineOptions struct {
	MicroBatch  int // rows per micro-batch, the last may be shorter (0: the whole batch at once)
	Replicas    int // sessions per partition that may run at once
	MaxInFlight int // micro-batches inside the pipeline at once (0: partitions + replicas)
	Threads     int // worker threads (0: the SetThreads setting)
}

// DefaultPipelineOptions are the library's defaults (one micro-batch, one replica).
func DefaultPipelineOptions() PipelineOptions {
	o := raw.NewPipelineOptions()
	defer raw.DeletePipelineOptions(o)
	return PipelineOptions{MicroBatch: int(o.GetMicro_batch()), Replicas: int(o.GetReplicas()),
		MaxInFlight: int(o.GetMax_in_flight()), Threads: int(o.GetThreads())}
}

// Pipeline runs a plan's partitions as a oneTBB flow graph: micro-batches flow from partition
// to partition, each partition running up to Replicas of them at once. Its outputs are bit for
// bit those of one Session on the whole model (except for dynamic quantization, whose ranges
// are per micro-batch). It keeps the plan's weights, so the plan may be closed first. One Run at
// a time (StatusState otherwise). Close frees it.
type Pipeline struct {
	mu sync.Mutex
	h  raw.Pipeline
}

// NewPipeline prepares plan's partitions for inputs whose dynamic dimension is batch.
func NewPipeline(plan *PartitionPlan, batch int, opts PipelineOptions) (p *Pipeline, err error) {
	err = plan.do(func(h raw.PartitionPlan) {
		ro := raw.NewPipelineOptions()
		defer raw.DeletePipelineOptions(ro)
		ro.SetMicro_batch(int64(opts.MicroBatch))
		ro.SetReplicas(int64(opts.Replicas))
		ro.SetMax_in_flight(int64(opts.MaxInFlight))
		ro.SetThreads(int64(opts.Threads))
		p = &Pipeline{h: raw.NewPipeline(h, int64(batch), ro)}
		runtime.SetFinalizer(p, (*Pipeline).Close)
	})
	return
}

// Close frees the pipeline. Closing again does nothing; other methods then return ErrClosed.
func (p *Pipeline) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h != nil {
		raw.DeletePipeline(p.h)
		p.h = nil
		runtime.SetFinalizer(p, nil)
	}
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed); see Tensor.Raw.
func (p *Pipeline) Raw() raw.Pipeline {
	if p == nil {
		return nil
	}
	return p.h
}

func (p *Pipeline) do(f func(h raw.Pipeline)) error {
	if p == nil || p.h == nil {
		return closed("Pipeline")
	}
	defer runtime.KeepAlive(p)
	return call(func() { f(p.h) })
}

// Run runs the whole batch: one tensor per model input, in order, as for Session.Run.
func (p *Pipeline) Run(inputs ...*Tensor) error {
	if p == nil || p.h == nil {
		return closed("Pipeline")
	}
	hs, err := handles(inputs...)
	if err != nil {
		return err
	}
	defer keepAlive(inputs...)
	return p.do(func(h raw.Pipeline) { runInputs(h, hs) })
}

// OutputCount is the whole model's number of outputs.
func (p *Pipeline) OutputCount() (n int, err error) {
	err = p.do(func(h raw.Pipeline) { n = int(h.OutputCount()) })
	return
}

// Output is a copy of the whole model's output i after the last Run (StatusState before one).
func (p *Pipeline) Output(i int) (t *Tensor, err error) {
	err = p.do(func(h raw.Pipeline) { t = newTensor(h.Output(int64(i))) })
	return
}
