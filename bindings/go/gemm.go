package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// The GEMM calls compute C [m, n] = (A - aZeroPoint)(B - bZeroPoint) with 32-bit accumulation,
// bit-exact on every CPU path: A row-major [m, k], B row-major [k, n] or, with bTransposed,
// [n, k] (a Linear layer's weight). bias holds 0 or n entries added to the accumulators; scales
// (the f32 forms) 1 or n entries: C = (acc + bias) * scale. C is a slice the caller allocates
// (m*n entries), written in place.

// GemmU8S8 is the u8 x s8 -> s32 product.
func GemmU8S8(m, n, k int, a []uint8, aZeroPoint int32, b []int8, bTransposed bool,
	bZeroPoint int32, bias []int32, c []int32) error {
	return call(func() {
		raw.Gemm_u8s8_s32(int64(m), int64(n), int64(k), a, int(aZeroPoint), b, bTransposed,
			int(bZeroPoint), bias, c)
	})
}

// GemmU8S8F32 is the u8 x s8 product dequantized to f32 (scales: sa * sb per column, or one).
func GemmU8S8F32(m, n, k int, a []uint8, aZeroPoint int32, b []int8, bTransposed bool,
	bZeroPoint int32, bias []int32, scales []float32, c []float32) error {
	return call(func() {
		raw.Gemm_u8s8_f32(int64(m), int64(n), int64(k), a, int(aZeroPoint), b, bTransposed,
			int(bZeroPoint), bias, scales, c)
	})
}

// GemmS8S8 is the s8 x s8 -> s32 product.
func GemmS8S8(m, n, k int, a []int8, aZeroPoint int32, b []int8, bTransposed bool,
	bZeroPoint int32, bias []int32, c []int32) error {
	return call(func() {
		raw.Gemm_s8s8_s32(int64(m), int64(n), int64(k), a, int(aZeroPoint), b, bTransposed,
			int(bZeroPoint), bias, c)
	})
}

// GemmF32 is the FP32 product C = A B (OpenBLAS), the reference INT8 results are compared with.
func GemmF32(m, n, k int, a, b []float32, bTransposed bool, c []float32) error {
	return call(func() { raw.Gemm_f32(int64(m), int64(n), int64(k), a, b, bTransposed, c) })
}

// PackedMatrix is an s8 B packed once (with its zero points and column sums) for many products.
// Close frees it.
type PackedMatrix struct {
	mu   sync.Mutex
	h    raw.PackedMatrix
	k, n int
}

// NewPackedMatrix packs B [k, n] (or [n, k] with bTransposed; copied) with zeroPoints: none
// (all 0), one, or n.
func NewPackedMatrix(k, n int, b []int8, bTransposed bool, zeroPoints []int32) (p *PackedMatrix, err error) {
	err = call(func() {
		p = &PackedMatrix{h: raw.NewPackedMatrix(int64(k), int64(n), b, bTransposed, zeroPoints), k: k, n: n}
		runtime.SetFinalizer(p, (*PackedMatrix).Close)
	})
	return
}

// K and N are the shape B was packed with.
func (p *PackedMatrix) K() int { return p.k }

// N is B's column count (the output width).
func (p *PackedMatrix) N() int { return p.n }

// Close frees the packed matrix. Closing again does nothing; other methods then return ErrClosed.
func (p *PackedMatrix) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h != nil {
		raw.DeletePackedMatrix(p.h)
		p.h = nil
		runtime.SetFinalizer(p, nil)
	}
	return nil
}

func (p *PackedMatrix) do(f func(h raw.PackedMatrix)) error {
	if p == nil || p.h == nil {
		return closed("PackedMatrix")
	}
	defer runtime.KeepAlive(p)
	return call(func() { f(p.h) })
}

// MultiplyS32 is C (s32, [m, N]) = (A - aZeroPoint) B + bias, A u8 [m, K].
func (p *PackedMatrix) MultiplyS32(m int, a []uint8, aZeroPoint int32, bias []int32, c []int32) error {
	return p.do(func(h raw.PackedMatrix) { h.MultiplyS32(int64(m), a, int(aZeroPoint), bias, c) })
}

// MultiplyF32 is C (f32) = ((A - aZeroPoint) B + bias) * scales.
func (p *PackedMatrix) MultiplyF32(m int, a []uint8, aZeroPoint int32, bias []int32, scales []float32, c []float32) error {
	return p.do(func(h raw.PackedMatrix) { h.MultiplyF32(int64(m), a, int(aZeroPoint), bias, scales, c) })
}

// DynamicLinear is a Linear layer with INT8 weights (symmetric, one scale per output feature,
// packed once) whose Forward quantizes its input per call to u8 and multiplies in INT8: the
// layer PyTorch's dynamic quantization makes. Close frees it.
type DynamicLinear struct {
	mu      sync.Mutex
	h       raw.DynamicLinear
	out, in int
}

// NewDynamicLinear quantizes weights (f32 [outFeatures, inFeatures], row-major) and keeps bias
// (nil or outFeatures entries).
func NewDynamicLinear(outFeatures, inFeatures int, weights, bias []float32) (l *DynamicLinear, err error) {
	err = call(func() {
		l = &DynamicLinear{h: raw.NewDynamicLinear(int64(outFeatures), int64(inFeatures), weights, bias),
			out: outFeatures, in: inFeatures}
		runtime.SetFinalizer(l, (*DynamicLinear).Close)
	})
	return
}

// InFeatures is the input width.
func (l *DynamicLinear) InFeatures() int { return l.in }

// OutFeatures is the output width.
func (l *DynamicLinear) OutFeatures() int { return l.out }

// Close frees the layer. Closing again does nothing; other methods then return ErrClosed.
func (l *DynamicLinear) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		raw.DeleteDynamicLinear(l.h)
		l.h = nil
		runtime.SetFinalizer(l, nil)
	}
	return nil
}

func (l *DynamicLinear) do(f func(h raw.DynamicLinear)) error {
	if l == nil || l.h == nil {
		return closed("DynamicLinear")
	}
	defer runtime.KeepAlive(l)
	return call(func() { f(l.h) })
}

// Forward computes y [rows, OutFeatures] from x [rows, InFeatures].
func (l *DynamicLinear) Forward(rows int, x, y []float32) error {
	return l.do(func(h raw.DynamicLinear) { h.Forward(int64(rows), x, y) })
}

// Weights are the stored INT8 weights [OutFeatures, InFeatures].
func (l *DynamicLinear) Weights() (w []int8, err error) {
	err = l.do(func(h raw.DynamicLinear) {
		w = make([]int8, l.out*l.in)
		h.Weights(w)
	})
	return
}

// WeightScales are the per-output-feature scales of the weights.
func (l *DynamicLinear) WeightScales() (s []float32, err error) {
	err = l.do(func(h raw.DynamicLinear) {
		s = make([]float32, l.out)
		h.WeightScales(s)
	})
	return
}

// WeightBytes is what the layer keeps for its weights (INT8 values, scales, bias).
func (l *DynamicLinear) WeightBytes() (n int, err error) {
	err = l.do(func(h raw.DynamicLinear) { n = int(h.WeightBytes()) })
	return
}
