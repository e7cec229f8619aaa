package q8

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"q8.dev/q8/raw"
)

// Partition plans and pipelines (q8/partition.h) through the Go package: plans by count and by
// memory budget, their JSON saved and loaded, and pipelines whose outputs are the whole model's
// bit for bit. (This file sorts before q8_test.go, whose last test checks that nothing leaked.)

// staticCNN is the digits CNN quantized statically on four batches of 64 training rows.
func staticCNN(t *testing.T) *Model {
	t.Helper()
	train, _ := loadDigits(t)
	fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_cnn.onnx"))
	must(t, err)
	defer fp32.Close()
	batches := calibrationBatches(t, train, 4)
	defer closeBatches(t, batches)
	int8, err := fp32.Quantize(DefaultPTQOptions(), batches)
	must(t, err)
	return int8
}

// calibrationBatches is n batches of 64 training rows shaped for the CNN.
func calibrationBatches(t *testing.T, train digits, n int) [][]*Tensor {
	t.Helper()
	var batches [][]*Tensor
	for i := 0; i < n; i++ {
		batches = append(batches, []*Tensor{batchTensor(t, train, i*64, 64, true)})
	}
	return batches
}

func closeBatches(t *testing.T, batches [][]*Tensor) {
	t.Helper()
	for _, b := range batches {
		for _, x := range b {
			must(t, x.Close())
		}
	}
}

// outputF32 is the values of output i of a Session or Pipeline (output is its Output method).
func outputF32(t *testing.T, output func(int) (*Tensor, error), i int) []float32 {
	t.Helper()
	y, err := output(i)
	must(t, err)
	defer y.Close()
	v, err := y.F32()
	must(t, err)
	return v
}

// sameBits fails unless got and want hold the same float32 bit patterns.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestPartitionConstantsMatchLibrary(t *testing.T) {
	if int(PartitionByBytes) != int(raw.Q8_PARTITION_BY_BYTES) || int(PartitionByFlops) != int(raw.Q8_PARTITION_BY_FLOPS) {
		t.Fatalf("PartitionBalance: Go %d %d, library %d %d", PartitionByBytes, PartitionByFlops,
			raw.Q8_PARTITION_BY_BYTES, raw.Q8_PARTITION_BY_FLOPS)
	}
	p, q := DefaultPartitionOptions(), DefaultPipelineOptions()
	if p.Count != 0 || p.MaxBytes != 0 || p.Balance != PartitionByBytes || p.Batch != 1 {
		t.Fatalf("DefaultPartitionOptions() = %+v", p)
	}
	if q.MicroBatch != 0 || q.Replicas != 1 || q.MaxInFlight != 0 || q.Threads != 0 {
		t.Fatalf("DefaultPipelineOptions() = %+v", q)
	}
}

// checkPlan checks that plan's partitions are contiguous, cover the model's nodes, and read
// only graph inputs and earlier partitions' outputs; it returns their infos.
func checkPlan(t *testing.T, plan *PartitionPlan, model *Model, count int) []PartitionInfo {
	t.Helper()
	n, err := plan.Count()
	must(t, err)
	if n != count {
		t.Fatalf("%d partitions, want %d", n, count)
	}
	nodes, err := model.NodeCount()
	must(t, err)
	available := map[string]bool{"input": true}
	infos := make([]PartitionInfo, n)
	next := 0
	for i := range infos {
		infos[i], err = plan.Info(i)
		must(t, err)
		info := infos[i]
		if info.FirstNode != next || info.Nodes < 1 {
			t.Fatalf("partition %d: nodes [%d, +%d), want a run starting at %d", i, info.FirstNode, info.Nodes, next)
		}
		next += info.Nodes
		for _, in := range info.Inputs {
			if !available[in] {
				t.Fatalf("partition %d reads %q, which no earlier partition hands on", i, in)
			}
		}
		for _, out := range info.Outputs {
			available[out] = true
		}
	}
	if next != nodes {
		t.Fatalf("the partitions hold %d nodes, the model %d", next, nodes)
	}
	if last := infos[n-1].Outputs; len(last) == 0 || last[len(last)-1] != "logits" {
		t.Fatalf("the last partition's outputs %q do not end in the graph output", last)
	}
	return infos
}

// runPartitions runs the plan partition by partition through plain sessions, feeding each the
// tensors it reads by name, and returns the logits.
func runPartitions(t *testing.T, plan *PartitionPlan, x *Tensor, batch int) []float32 {
	t.Helper()
	n, err := plan.Count()
	must(t, err)
	tensors := map[string]*Tensor{"input": x}
	var made []*Tensor
	defer func() {
		for _, m := range made {
			must(t, m.Close())
		}
	}()
	for i := 0; i < n; i++ {
		m, err := plan.Model(i)
		must(t, err)
		s, err := NewSession(m, batch)
		must(t, err)
		ins, err := m.InputCount()
		must(t, err)
		var inputs []*Tensor
		for j := 0; j < ins; j++ {
			name, err := m.InputName(j)
			must(t, err)
			inputs = append(inputs, tensors[name])
		}
		must(t, s.Run(inputs...))
		outs, err := m.OutputCount()
		must(t, err)
		for j := 0; j < outs; j++ {
			name, err := m.OutputName(j)
			must(t, err)
			y, err := s.Output(j)
			must(t, err)
			tensors[name] = y
			made = append(made, y)
		}
		closeAll(t, s, m)
	}
	logits, err := tensors["logits"].F32()
	must(t, err)
	return logits
}

func TestPartitionPlansAndPipelines(t *testing.T) {
	_, test := loadDigits(t)
	int8 := staticCNN(t)
	defer int8.Close()
	batch := len(test.y) // 450 rows: micro-batches of 7 end in a short one
	x := batchTensor(t, test, 0, batch, true)
	defer x.Close()
	s, err := NewSession(int8, batch)
	must(t, err)
	must(t, s.Run(x))
	want := outputF32(t, s.Output, 0)
	must(t, s.Close())

	dir := t.TempDir()
	for _, count := range []int{2, 3} {
		for _, balance := range []PartitionBalance{PartitionByBytes, PartitionByFlops} {
			opts := DefaultPartitionOptions()
			opts.Count, opts.Balance, opts.Batch = count, balance, batch
			plan, err := NewPartitionPlan(int8, opts)
			must(t, err)
			checkPlan(t, plan, int8, count)
			sameBits(t, "partitions run one by one", runPartitions(t, plan, x, batch), want)

			table, err := plan.Describe(false)
			must(t, err)
			text, err := plan.Describe(true)
			must(t, err)
			var doc struct {
				Format     string
				Partitions []struct{ First, Last string }
			}
			must(t, json.Unmarshal([]byte(text), &doc))
			if doc.Format != "q8-partition-plan" || len(doc.Partitions) != count {
				t.Fatalf("plan JSON: format %q, %d partitions", doc.Format, len(doc.Partitions))
			}
			if !strings.Contains(table, doc.Partitions[count-1].Last) {
				t.Fatalf("the table does not name the last node %q:\n%s", doc.Partitions[count-1].Last, table)
			}

			// Saved atomically (nothing else left in the directory) and loaded back, from the
			// file and from its bytes: the same plan.
			path := filepath.Join(dir, "plan.json")
			must(t, plan.Save(path))
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("the directory holds %d entries after Save, want only plan.json", len(entries))
			}
			saved, err := os.ReadFile(path)
			must(t, err)
			fromFile, err := LoadPartitionPlan(int8, path)
			must(t, err)
			fromBytes, err := LoadPartitionPlanBytes(int8, saved)
			must(t, err)
			for _, loaded := range []*PartitionPlan{fromFile, fromBytes} {
				if again, _ := loaded.Describe(true); again != text {
					t.Fatalf("loaded plan describes as\n%s\nwant\n%s", again, text)
				}
			}
			must(t, plan.Close())

			for _, c := range []struct{ micro, replicas int }{{7, 2}, {0, 1}, {64, 2}} {
				po := DefaultPipelineOptions()
				po.MicroBatch, po.Replicas, po.Threads = c.micro, c.replicas, 2
				p, err := NewPipeline(fromFile, batch, po)
				must(t, err)
				if n, _ := p.OutputCount(); n != 1 {
					t.Fatalf("pipeline output count %d", n)
				}
				for run := 0; run < 2; run++ { // a second run reuses the flow graph
					must(t, p.Run(x))
					sameBits(t, "pipeline logits", outputF32(t, p.Output, 0), want)
				}
				must(t, p.Close())
			}
			closeAll(t, fromFile, fromBytes)
		}
	}
}

func TestPartitionBudgets(t *testing.T) {
	int8 := staticCNN(t)
	defer int8.Close()
	opts := DefaultPartitionOptions()
	opts.Count = 3
	three, err := NewPartitionPlan(int8, opts)
	must(t, err)
	var largest, total uint64
	for _, info := range checkPlan(t, three, int8, 3) {
		total += info.WeightBytes
		if info.WeightBytes > largest {
			largest = info.WeightBytes
		}
	}
	must(t, three.Close())

	// A budget the 3-partition split meets: at most 3 partitions, each within it.
	budget := DefaultPartitionOptions()
	budget.MaxBytes = largest
	plan, err := NewPartitionPlan(int8, budget)
	must(t, err)
	n, err := plan.Count()
	must(t, err)
	if n < 2 || n > 3 {
		t.Fatalf("a budget of %d of %d bytes: %d partitions", largest, total, n)
	}
	for _, info := range checkPlan(t, plan, int8, n) {
		if info.WeightBytes > largest {
			t.Fatalf("a partition of %d bytes under a budget of %d", info.WeightBytes, largest)
		}
	}
	must(t, plan.Close())
	// Room for everything: one partition.
	budget.MaxBytes = total
	plan, err = NewPartitionPlan(int8, budget)
	must(t, err)
	checkPlan(t, plan, int8, 1)
	must(t, plan.Close())
	// Fewer partitions than the budget needs, and a budget no node fits.
	budget.MaxBytes, budget.Count = largest, n-1
	_, err = NewPartitionPlan(int8, budget)
	wantError(t, err, StatusShape, "at least")
	budget.MaxBytes, budget.Count = 1, 0
	_, err = NewPartitionPlan(int8, budget)
	wantError(t, err, StatusShape, "above max_bytes = 1")
}

func TestPartitionErrorsAndClosedObjects(t *testing.T) {
	_, test := loadDigits(t)
	int8 := staticCNN(t)
	nodes, err := int8.NodeCount()
	must(t, err)
	opts := DefaultPartitionOptions()
	opts.Count = nodes + 1
	_, err = NewPartitionPlan(int8, opts)
	wantError(t, err, StatusShape, "nodes")
	_, err = LoadPartitionPlanBytes(int8, []byte(`{"format": "q8-partition-plan", "version": 1, "partitions": [`))
	wantError(t, err, StatusFormat, "not valid JSON")
	missing := filepath.Join(t.TempDir(), "no-such-plan.json")
	_, err = LoadPartitionPlan(int8, missing)
	wantError(t, err, StatusIO, "no-such-plan.json")

	opts.Count = 2
	plan, err := NewPartitionPlan(int8, opts)
	must(t, err)
	_, err = plan.Info(2)
	wantError(t, err, StatusInvalidArgument, "out of range")
	_, err = plan.Model(2)
	wantError(t, err, StatusInvalidArgument, "out of range")
	// The plan names the INT8 model's nodes, which the FP32 model does not have.
	text, err := plan.Describe(true)
	must(t, err)
	fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_cnn.onnx"))
	must(t, err)
	_, err = LoadPartitionPlanBytes(fp32, []byte(text))
	wantError(t, err, StatusFormat, "model")
	must(t, fp32.Close())
	wantError(t, plan.Save(filepath.Join(t.TempDir(), "no", "such", "dir", "plan.json")), StatusIO, "plan.json")

	po := DefaultPipelineOptions()
	po.Replicas = 0
	_, err = NewPipeline(plan, 8, po)
	wantError(t, err, StatusInvalidArgument, "replicas")
	po.Replicas, po.MicroBatch = 2, 3
	p, err := NewPipeline(plan, 8, po)
	must(t, err)
	_, err = p.Output(0)
	wantError(t, err, StatusState, "has not run")
	wrong := batchTensor(t, test, 0, 5, true)
	wantError(t, p.Run(wrong), StatusShape, "shape")
	must(t, wrong.Close())

	// The plan and the model may go first: the pipeline keeps what it runs.
	closeAll(t, plan, int8)
	x := batchTensor(t, test, 0, 8, true)
	must(t, p.Run(x))
	y, err := p.Output(0)
	must(t, err)
	if shape, _ := y.Shape(); len(shape) != 2 || shape[0] != 8 || shape[1] != 10 {
		t.Fatalf("pipeline output shape %v", shape)
	}
	closeAll(t, y, p, p)

	wantClosed(t, p.Run(x), "Pipeline")
	_, err = p.Output(0)
	wantClosed(t, err, "Pipeline")
	_, err = plan.Count()
	wantClosed(t, err, "PartitionPlan")
	_, err = NewPipeline(plan, 8, DefaultPipelineOptions())
	wantClosed(t, err, "PartitionPlan")
	_, err = NewPartitionPlan(int8, opts)
	wantClosed(t, err, "Model")
	var none *PartitionPlan
	if _, err := none.Describe(false); !errors.Is(err, ErrClosed) {
		t.Fatalf("a nil plan: %v", err)
	}
	must(t, x.Close())
}
