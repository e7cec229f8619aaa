// Quantizes a weight matrix per output channel, quantizes activations dynamically, and runs the
// INT8 GEMM against the FP32 one (go run ./quantize_gemm in examples/go, after a build).
package main

import (
	"fmt"
	"log"
	"math"
	"math/rand"

	"q8.dev/q8"
)

func main() {
	const m, k, n = 16, 256, 64 // activations [m, k], weights [n, k] (a Linear layer)
	r := rand.New(rand.NewSource(1))
	act, weights := make([]float32, m*k), make([]float32, n*k)
	for i := range act {
		act[i] = r.Float32() * 4 // post-ReLU activations
	}
	for i := range weights {
		weights[i] = float32(r.NormFloat64() * 0.05)
	}

	// Weights: s8, symmetric, one scale per output channel (axis 0).
	w, err := q8.FromF32(weights, n, k)
	check(err)
	defer w.Close()
	wq, err := q8.QuantizeTensor(w, q8.SymmetricNarrow, 0)
	check(err)
	defer wq.Close()
	wInt8, err := wq.S8()
	check(err)
	wParams, err := wq.Quantization()
	check(err)

	// Activations: u8 with the range of this batch (what a dynamic Linear layer does per call).
	actU8 := make([]uint8, len(act))
	aParams, err := q8.DynamicQuantizeU8(act, actU8)
	check(err)

	// C = (A - za) W^T, dequantized with scale_a * scale_w[j] per output column.
	scales := make([]float32, n)
	for j := range scales {
		scales[j] = aParams.Scale * wParams.Scales[j]
	}
	int8Out := make([]float32, m*n)
	check(q8.GemmU8S8F32(m, n, k, actU8, aParams.ZeroPoint, wInt8, true, 0, nil, scales, int8Out))

	fp32Out := make([]float32, m*n)
	check(q8.GemmF32(m, n, k, act, weights, true, fp32Out))

	var maxErr, maxRef float64
	for i := range fp32Out {
		maxErr = math.Max(maxErr, math.Abs(float64(int8Out[i]-fp32Out[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(fp32Out[i])))
	}
	fmt.Printf("GEMM %dx%dx%d: max |INT8 - FP32| = %.4f of max |FP32| = %.3f (%.2f %%)\n",
		m, k, n, maxErr, maxRef, 100*maxErr/maxRef)

	// The same weights packed once for many calls give the same bits.
	packed, err := q8.NewPackedMatrix(k, n, wInt8, true, nil)
	check(err)
	defer packed.Close()
	again := make([]float32, m*n)
	check(packed.MultiplyF32(m, actU8, aParams.ZeroPoint, nil, scales, again))
	for i := range again {
		if again[i] != int8Out[i] {
			log.Fatalf("packed GEMM differs at %d: %g vs %g", i, again[i], int8Out[i])
		}
	}
	fmt.Println("packed weights: identical results")

	if maxErr > 0.02*maxRef {
		log.Fatalf("INT8 error %.2f %% above 2 %%", 100*maxErr/maxRef)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
