package q8

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"q8.dev/q8/internal/lsan"
	"q8.dev/q8/raw"
)

// ---- helpers -------------------------------------------------------------------------------

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantError checks err is a *Error of status whose message contains part.
func wantError(t *testing.T, err error, status Status, part string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *q8.Error of %v containing %q, got %v", status, part, err)
	}
	if e.Status != status || !strings.Contains(e.Message, part) {
		t.Fatalf("want %v containing %q, got %v: %q", status, part, e.Status, e.Message)
	}
}

func closeAll(t *testing.T, cs ...interface{ Close() error }) {
	t.Helper()
	for _, c := range cs {
		must(t, c.Close())
	}
}

// quantizeRef is q8_quantize's formula: clamp(round_half_even(x / scale) + zp), NaN -> zp, the
// division in f32.
func quantizeRef(x, scale float32, zp, qmin, qmax int32) int32 {
	if math.IsNaN(float64(x)) {
		return zp
	}
	r := math.RoundToEven(float64(x/scale)) + float64(zp)
	return int32(math.Max(float64(qmin), math.Min(float64(qmax), r)))
}

func gemmRef(m, n, k int, a func(i, kk int) int64, za int64, b []int8, bT bool, zb func(j int) int64,
	bias []int32) []int64 {
	c := make([]int64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc int64
			for kk := 0; kk < k; kk++ {
				bv := b[kk*n+j]
				if bT {
					bv = b[j*k+kk]
				}
				acc += (a(i, kk) - za) * (int64(bv) - zb(j))
			}
			if len(bias) > 0 {
				acc += int64(bias[j])
			}
			c[i*n+j] = acc
		}
	}
	return c
}

func randS8(r *rand.Rand, n int) []int8 {
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(r.Intn(256) - 128)
	}
	return v
}

func randU8(r *rand.Rand, n int) []uint8 {
	v := make([]uint8, n)
	for i := range v {
		v[i] = uint8(r.Intn(256))
	}
	return v
}

func randS32(r *rand.Rand, n, span int) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(r.Intn(2*span+1) - span)
	}
	return v
}

func randF32(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = (r.Float32()*2 - 1) * scale
	}
	return v
}

// ---- constants -----------------------------------------------------------------------------

// The Go constants are typed copies of the library's; a status appended to common.h must also
// be added to go.swg (Q8GO_STATUS_AS_ENUM) and errors.go, which this test enforces.
func TestConstantsMatchLibrary(t *testing.T) {
	statuses := map[Status]raw.Q8_status{
		StatusOK: raw.Q8_OK, StatusInvalidArgument: raw.Q8_ERR_INVALID_ARGUMENT,
		StatusShape: raw.Q8_ERR_SHAPE, StatusDType: raw.Q8_ERR_DTYPE,
		StatusOutOfMemory: raw.Q8_ERR_OUT_OF_MEMORY, StatusIO: raw.Q8_ERR_IO,
		StatusFormat: raw.Q8_ERR_FORMAT, StatusUnsupported: raw.Q8_ERR_UNSUPPORTED,
		StatusInternal: raw.Q8_ERR_INTERNAL, StatusState: raw.Q8_ERR_STATE,
	}
	for s, r := range statuses {
		if int(s) != int(r) {
			t.Errorf("status %v: Go %d, library %d", s, s, r)
		}
	}
	if got := raw.Status_string(raw.Q8_status(len(statuses))); got != "unknown status" {
		t.Errorf("the library knows status %d (%s): add it to go.swg and errors.go", len(statuses), got)
	}
	if StatusShape.String() != "Q8_ERR_SHAPE" {
		t.Errorf("StatusShape.String() = %q", StatusShape.String())
	}
	pairs := [][2]int{
		{int(F32), int(raw.Q8_DTYPE_F32)}, {int(S8), int(raw.Q8_DTYPE_S8)},
		{int(U8), int(raw.Q8_DTYPE_U8)}, {int(S32), int(raw.Q8_DTYPE_S32)},
		{int(SymmetricNarrow), int(raw.Q8_SCHEME_SYMMETRIC_NARROW)},
		{int(Symmetric), int(raw.Q8_SCHEME_SYMMETRIC)},
		{int(AsymmetricU8), int(raw.Q8_SCHEME_ASYMMETRIC_U8)},
		{int(AsymmetricS8), int(raw.Q8_SCHEME_ASYMMETRIC_S8)},
		{int(ObserverMinMax), int(raw.Q8_OBSERVER_MINMAX)},
		{int(ObserverMovingAverageMinMax), int(raw.Q8_OBSERVER_MOVING_AVERAGE_MINMAX)},
		{int(ObserverPercentile), int(raw.Q8_OBSERVER_PERCENTILE)},
		{int(ObserverEntropy), int(raw.Q8_OBSERVER_ENTROPY)}, {int(ObserverMSE), int(raw.Q8_OBSERVER_MSE)},
		{int(RoundTowardZero), int(raw.Q8_ROUND_TOWARD_ZERO)},
		{int(RoundNearestAway), int(raw.Q8_ROUND_NEAREST_AWAY)},
		{int(RoundNearestEven), int(raw.Q8_ROUND_NEAREST_EVEN)},
		{int(PTQDynamic), int(raw.Q8_PTQ_DYNAMIC)}, {int(PTQStatic), int(raw.Q8_PTQ_STATIC)},
		{int(PTQWeightOnly), int(raw.Q8_PTQ_WEIGHT_ONLY)},
		{int(PruneUnstructured), int(raw.Q8_PRUNE_UNSTRUCTURED)}, {int(PruneNM), int(raw.Q8_PRUNE_N_M)},
		{int(PruneBlock), int(raw.Q8_PRUNE_BLOCK)}, {int(PruneChannel), int(raw.Q8_PRUNE_CHANNEL)},
		{int(PruneNormL2), int(raw.Q8_PRUNE_NORM_L2)}, {int(PruneNormL1), int(raw.Q8_PRUNE_NORM_L1)},
		{int(ISAAuto), int(raw.Q8_ISA_AUTO)}, {int(ISAScalar), int(raw.Q8_ISA_SCALAR)},
		{int(ISAAVX2), int(raw.Q8_ISA_AVX2)}, {int(ISAAVX512), int(raw.Q8_ISA_AVX512)},
		{int(ISAAVX512VNNI), int(raw.Q8_ISA_AVX512_VNNI)}, {int(ISANEON), int(raw.Q8_ISA_NEON)},
	}
	for i, p := range pairs {
		if p[0] != p[1] {
			t.Errorf("constant %d: Go %d, library %d", i, p[0], p[1])
		}
	}
	if F32.String() != "f32" || S8.Size() != 1 || S32.Size() != 4 {
		t.Errorf("dtype names/sizes: %s %d %d", F32, S8.Size(), S32.Size())
	}
}

func TestVersionAndRuntime(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(Version()) {
		t.Fatalf("Version() = %q", Version())
	}
	if !ISASupported(CurrentISA()) || !ISASupported(ISAScalar) {
		t.Fatalf("current ISA %v or scalar not supported", CurrentISA())
	}
	must(t, SetThreads(1))
	if Threads() != 1 {
		t.Fatalf("Threads() = %d after SetThreads(1)", Threads())
	}
	must(t, SetThreads(0))
	wantError(t, SetThreads(-1), StatusInvalidArgument, "")
}

// ---- tensors -------------------------------------------------------------------------------

func TestTensorCreate(t *testing.T) {
	z, err := NewTensor(S8, 2, 3)
	must(t, err)
	defer z.Close()
	shape, err := z.Shape()
	must(t, err)
	if fmt.Sprint(shape) != "[2 3]" {
		t.Fatalf("shape %v", shape)
	}
	if d, _ := z.DType(); d != S8 {
		t.Fatalf("dtype %v", d)
	}
	if n, _ := z.Len(); n != 6 {
		t.Fatalf("len %d", n)
	}
	if b, _ := z.NBytes(); b != 6 {
		t.Fatalf("nbytes %d", b)
	}
	v, err := z.S8()
	must(t, err)
	for _, x := range v {
		if x != 0 {
			t.Fatalf("not zero-filled: %v", v)
		}
	}

	src := []float32{1, 2, 3, 4, 5, 6}
	x, err := FromF32(src, 3, 2)
	must(t, err)
	defer x.Close()
	src[0] = 99 // the tensor holds a copy
	got, err := x.F32()
	must(t, err)
	if got[0] != 1 || got[5] != 6 {
		t.Fatalf("FromF32 holds %v", got)
	}
	must(t, x.Reshape(6))
	if s, _ := x.Shape(); fmt.Sprint(s) != "[6]" {
		t.Fatalf("reshaped to %v", s)
	}
	wantError(t, x.Reshape(4), StatusShape, "")

	c, err := x.Clone()
	must(t, err)
	defer c.Close()
	must(t, c.CopyFromF32([]float32{6, 5, 4, 3, 2, 1}))
	back := make([]float32, 6)
	must(t, x.CopyToF32(back))
	if back[0] != 1 {
		t.Fatalf("a clone shares storage: %v", back)
	}
	must(t, CopyTensor(c, x))
	must(t, x.CopyToF32(back))
	if back[0] != 6 {
		t.Fatalf("CopyTensor: %v", back)
	}

	scalar, err := NewTensor(F32)
	must(t, err)
	defer scalar.Close()
	if n, _ := scalar.Len(); n != 1 {
		t.Fatalf("a rank-0 tensor holds %d elements", n)
	}

	for _, mk := range []func() (*Tensor, error){
		func() (*Tensor, error) { return FromS8([]int8{-128, 127}, 2) },
		func() (*Tensor, error) { return FromU8([]uint8{0, 255}, 2) },
		func() (*Tensor, error) { return FromS32([]int32{math.MinInt32, math.MaxInt32}, 2) },
	} {
		tt, err := mk()
		must(t, err)
		d, _ := tt.DType()
		var s string
		switch d {
		case S8:
			v, _ := tt.S8()
			s = fmt.Sprint(v)
		case U8:
			v, _ := tt.U8()
			s = fmt.Sprint(v)
		case S32:
			v, _ := tt.S32()
			s = fmt.Sprint(v)
		}
		if s != "[-128 127]" && s != "[0 255]" && s != "[-2147483648 2147483647]" {
			t.Fatalf("%v tensor holds %s", d, s)
		}
		must(t, tt.Close())
	}
}

// ---- quantize / dequantize -----------------------------------------------------------------

func TestQuantizeDequantize(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	const scale = float32(0.05)
	xs := randF32(r, 1000, 8)
	// Exact ties (k + 0.5 steps), specials and values far outside the range.
	for i := 0; i < 40; i++ {
		xs = append(xs, (float32(i-20)+0.5)*scale)
	}
	xs = append(xs, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -1e30, 0)
	n := int64(len(xs))
	for _, c := range []struct {
		dtype      DType
		zp         int32
		qmin, qmax int32
	}{{U8, 128, 0, 255}, {S8, -3, -128, 127}} {
		x, err := FromF32(xs, n)
		must(t, err)
		q, err := NewTensor(c.dtype, n)
		must(t, err)
		must(t, q.SetQParams(scale, c.zp))
		must(t, Quantize(x, q))
		var got []int32
		if c.dtype == U8 {
			v, err := q.U8()
			must(t, err)
			for _, e := range v {
				got = append(got, int32(e))
			}
		} else {
			v, err := q.S8()
			must(t, err)
			for _, e := range v {
				got = append(got, int32(e))
			}
		}
		for i, v := range xs {
			if want := quantizeRef(v, scale, c.zp, c.qmin, c.qmax); got[i] != want {
				t.Fatalf("%v: quantize(%g) = %d, want %d", c.dtype, v, got[i], want)
			}
		}
		y, err := NewTensor(F32, n)
		must(t, err)
		must(t, Dequantize(q, y))
		deq, err := y.F32()
		must(t, err)
		for i := range deq {
			if want := float32(got[i]-c.zp) * scale; deq[i] != want {
				t.Fatalf("%v: dequantize(%d) = %g, want %g", c.dtype, got[i], deq[i], want)
			}
		}
		closeAll(t, x, q, y)
	}
}

func TestQuantizePerAxisAndRequantize(t *testing.T) {
	xs := []float32{-1, 0, 1, 2, -4, 0, 4, 8, -0.5, 0, 0.5, 1}
	x, err := FromF32(xs, 3, 4)
	must(t, err)
	q, err := NewTensor(S8, 3, 4)
	must(t, err)
	scales := []float32{1.0 / 64, 1.0 / 16, 1.0 / 128}
	zps := []int32{0, 1, -1}
	must(t, q.SetQParamsPerAxis(0, scales, zps))
	qp, err := q.Quantization()
	must(t, err)
	if qp.Axis != 0 || fmt.Sprint(qp.Scales) != fmt.Sprint(scales) || fmt.Sprint(qp.ZeroPoints) != fmt.Sprint(zps) {
		t.Fatalf("per-axis parameters read back as %+v", qp)
	}
	must(t, Quantize(x, q))
	got, err := q.S8()
	must(t, err)
	for i, v := range xs {
		row := i / 4
		if want := quantizeRef(v, scales[row], zps[row], -128, 127); int32(got[i]) != want {
			t.Fatalf("element %d: %d, want %d", i, got[i], want)
		}
	}
	// Requantize to u8 per tensor is quantize(dequantize(q)).
	u, err := NewTensor(U8, 3, 4)
	must(t, err)
	must(t, u.SetQParams(1.0/32, 128))
	must(t, Requantize(q, u))
	ru, err := u.U8()
	must(t, err)
	for i := range xs {
		row := i / 4
		real := float32(int32(got[i])-zps[row]) * scales[row]
		if want := quantizeRef(real, 1.0/32, 128, 0, 255); int32(ru[i]) != want {
			t.Fatalf("requantized element %d: %d, want %d", i, ru[i], want)
		}
	}
	must(t, q.ClearQParams())
	if qp, _ := q.Quantization(); len(qp.Scales) != 0 {
		t.Fatalf("parameters left after ClearQParams: %+v", qp)
	}
	wantError(t, Quantize(x, q), StatusState, "no quantization parameters")
	closeAll(t, x, q, u)
}

func TestQuantizeTensorObserverQParams(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	xs := randF32(r, 256, 3)
	x, err := FromF32(xs, 16, 16)
	must(t, err)
	defer x.Close()
	lo, hi := float32(0), float32(0)
	for _, v := range xs {
		lo, hi = float32(math.Min(float64(lo), float64(v))), float32(math.Max(float64(hi), float64(v)))
	}
	p, err := QParamsFromRange(AsymmetricU8, lo, hi)
	must(t, err)
	if p.Scale <= 0 || p.ZeroPoint < 0 || p.ZeroPoint > 255 {
		t.Fatalf("qparams %+v", p)
	}

	q, err := QuantizeTensor(x, AsymmetricU8, -1)
	must(t, err)
	defer q.Close()
	qp, err := q.Quantization()
	must(t, err)
	if qp.Axis != -1 || len(qp.Scales) != 1 || qp.Scales[0] != p.Scale || qp.ZeroPoints[0] != p.ZeroPoint {
		t.Fatalf("QuantizeTensor chose %+v, QParamsFromRange %+v", qp, p)
	}
	back, err := DequantizeTensor(q)
	must(t, err)
	defer back.Close()
	bv, err := back.F32()
	must(t, err)
	for i := range xs {
		if math.Abs(float64(bv[i]-xs[i])) > float64(p.Scale)/2+1e-6 {
			t.Fatalf("round trip of %g gave %g (scale %g)", xs[i], bv[i], p.Scale)
		}
	}

	opts := DefaultObserverOptions()
	if opts.Kind != ObserverMinMax || opts.Scheme != AsymmetricU8 || opts.Axis != -1 {
		t.Fatalf("default observer options %+v", opts)
	}
	obs, err := NewObserver(opts)
	must(t, err)
	defer obs.Close()
	_, err = obs.Channels()
	wantError(t, err, StatusState, "")
	must(t, obs.Update(x))
	if n, _ := obs.Channels(); n != 1 {
		t.Fatalf("channels %d", n)
	}
	mn, mx, err := obs.Range(0)
	must(t, err)
	if mn != lo || mx != hi {
		t.Fatalf("observer range [%g, %g], data [%g, %g]", mn, mx, lo, hi)
	}
	op, err := obs.QParams(0)
	must(t, err)
	if op != p {
		t.Fatalf("observer qparams %+v, want %+v", op, p)
	}
	_, _, err = obs.Range(1)
	wantError(t, err, StatusInvalidArgument, "channel 1 of 1")
	y, err := NewTensor(U8, 16, 16)
	must(t, err)
	defer y.Close()
	must(t, obs.Apply(y))
	must(t, Quantize(x, y))
	a, _ := y.U8()
	b, _ := q.U8()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("observer-applied quantization differs from QuantizeTensor")
	}
	must(t, obs.Reset())
	_, err = obs.Channels()
	wantError(t, err, StatusState, "")

	// Per channel: one range per row.
	opts.Scheme, opts.Axis = SymmetricNarrow, 0
	pc, err := NewObserver(opts)
	must(t, err)
	defer pc.Close()
	must(t, pc.Update(x))
	if n, _ := pc.Channels(); n != 16 {
		t.Fatalf("per-channel observer has %d channels", n)
	}

	// Dynamic u8 quantization of a plain slice.
	dq := make([]uint8, len(xs))
	dp, err := DynamicQuantizeU8(xs, dq)
	must(t, err)
	if dp != p {
		t.Fatalf("DynamicQuantizeU8 chose %+v, want %+v", dp, p)
	}
	for i, v := range xs {
		if want := quantizeRef(v, dp.Scale, dp.ZeroPoint, 0, 255); int32(dq[i]) != want {
			t.Fatalf("dynamic quantize(%g) = %d, want %d", v, dq[i], want)
		}
	}
	_, err = DynamicQuantizeU8(xs, dq[:3])
	wantError(t, err, StatusShape, "output holds 3 elements")
}

// ---- GEMM ----------------------------------------------------------------------------------

var gemmSizes = []int{0, 1, 7, 63, 65}

func TestGemmU8S8AndS8S8Exact(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, m := range gemmSizes {
		for _, n := range gemmSizes {
			for _, k := range gemmSizes {
				for _, bT := range []bool{false, true} {
					a8 := randU8(r, m*k)
					as := randS8(r, m*k)
					b := randS8(r, k*n)
					var bias []int32
					if (m+n+k)%2 == 0 {
						bias = randS32(r, n, 1<<20)
					}
					za, zs, zb := int32(r.Intn(256)), int32(r.Intn(256)-128), int32(r.Intn(256)-128)
					c := make([]int32, m*n)
					must(t, GemmU8S8(m, n, k, a8, za, b, bT, zb, bias, c))
					want := gemmRef(m, n, k, func(i, kk int) int64 { return int64(a8[i*k+kk]) }, int64(za),
						b, bT, func(int) int64 { return int64(zb) }, bias)
					for i := range c {
						if int64(c[i]) != want[i] {
							t.Fatalf("u8s8 %dx%dx%d bT=%v: c[%d] = %d, want %d", m, n, k, bT, i, c[i], want[i])
						}
					}
					must(t, GemmS8S8(m, n, k, as, zs, b, bT, zb, bias, c))
					want = gemmRef(m, n, k, func(i, kk int) int64 { return int64(as[i*k+kk]) }, int64(zs),
						b, bT, func(int) int64 { return int64(zb) }, bias)
					for i := range c {
						if int64(c[i]) != want[i] {
							t.Fatalf("s8s8 %dx%dx%d bT=%v: c[%d] = %d, want %d", m, n, k, bT, i, c[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestGemmF32Forms(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	m, n, k := 5, 9, 33
	a := randU8(r, m*k)
	b := randS8(r, n*k) // transposed: [n, k]
	bias := randS32(r, n, 1000)
	scales := randF32(r, n, 0.01)
	for i := range scales {
		scales[i] = float32(math.Abs(float64(scales[i]))) + 1e-4
	}
	c := make([]float32, m*n)
	must(t, GemmU8S8F32(m, n, k, a, 7, b, true, -2, bias, scales, c))
	acc := gemmRef(m, n, k, func(i, kk int) int64 { return int64(a[i*k+kk]) }, 7, b, true,
		func(int) int64 { return -2 }, bias)
	for i := range c {
		if want := float32(int32(acc[i])) * scales[i%n]; c[i] != want {
			t.Fatalf("u8s8 -> f32: c[%d] = %g, want %g", i, c[i], want)
		}
	}
	// One scale for all of C.
	must(t, GemmU8S8F32(m, n, k, a, 7, b, true, -2, bias, scales[:1], c))
	if want := float32(int32(acc[n+1])) * scales[0]; c[n+1] != want {
		t.Fatalf("per-tensor scale: %g, want %g", c[n+1], want)
	}

	af := randF32(r, m*k, 1)
	bf := randF32(r, k*n, 1)
	cf := make([]float32, m*n)
	must(t, GemmF32(m, n, k, af, bf, false, cf))
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for kk := 0; kk < k; kk++ {
				s += float64(af[i*k+kk]) * float64(bf[kk*n+j])
			}
			if math.Abs(s-float64(cf[i*n+j])) > 1e-4 {
				t.Fatalf("f32 gemm c[%d,%d] = %g, want %g", i, j, cf[i*n+j], s)
			}
		}
	}
	err := GemmF32(m, n, k, af, bf, false, cf[:3])
	wantError(t, err, StatusShape, "c holds 3 elements; expected 45")
}

func TestPackedMatrix(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, m := range gemmSizes {
		for _, shape := range [][2]int{{1, 1}, {7, 63}, {65, 7}, {64, 33}} {
			k, n := shape[0], shape[1]
			for _, bT := range []bool{false, true} {
				b := randS8(r, k*n)
				zps := randS32(r, n, 127) // one per column
				p, err := NewPackedMatrix(k, n, b, bT, zps)
				must(t, err)
				if p.K() != k || p.N() != n {
					t.Fatalf("packed shape %dx%d", p.K(), p.N())
				}
				a := randU8(r, m*k)
				bias := randS32(r, n, 1<<16)
				c := make([]int32, m*n)
				must(t, p.MultiplyS32(m, a, 3, bias, c))
				want := gemmRef(m, n, k, func(i, kk int) int64 { return int64(a[i*k+kk]) }, 3, b, bT,
					func(j int) int64 { return int64(zps[j]) }, bias)
				for i := range c {
					if int64(c[i]) != want[i] {
						t.Fatalf("packed %dx%dx%d bT=%v: c[%d] = %d, want %d", m, n, k, bT, i, c[i], want[i])
					}
				}
				cf := make([]float32, m*n)
				must(t, p.MultiplyF32(m, a, 3, bias, []float32{0.5}, cf))
				for i := range cf {
					if w := float32(int32(want[i])) * 0.5; cf[i] != w {
						t.Fatalf("packed f32 c[%d] = %g, want %g", i, cf[i], w)
					}
				}
				must(t, p.Close())
			}
		}
	}
	// Packing copies B, and one zero point applies to every column.
	b := []int8{1, 2, 3, 4}
	p, err := NewPackedMatrix(2, 2, b, false, []int32{1})
	must(t, err)
	defer p.Close()
	b[0] = 100
	c := make([]int32, 2)
	must(t, p.MultiplyS32(1, []uint8{1, 1}, 0, nil, c))
	if c[0] != (1-1)+(3-1) || c[1] != (2-1)+(4-1) {
		t.Fatalf("packed [1 1] x B = %v", c)
	}
	wantError(t, p.MultiplyS32(1, []uint8{1}, 0, nil, c), StatusShape, "a holds 1 elements; expected 2")
}

func TestDynamicLinear(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	out, in, rows := 12, 40, 5
	w := randF32(r, out*in, 0.5)
	bias := randF32(r, out, 0.1)
	l, err := NewDynamicLinear(out, in, w, bias)
	must(t, err)
	defer l.Close()
	if l.InFeatures() != in || l.OutFeatures() != out {
		t.Fatalf("layer %dx%d", l.OutFeatures(), l.InFeatures())
	}
	wq, err := l.Weights()
	must(t, err)
	ws, err := l.WeightScales()
	must(t, err)
	// Symmetric narrow per output feature: scale = max|w| / 127, weights in [-127, 127].
	for o := 0; o < out; o++ {
		var mx float64
		for i := 0; i < in; i++ {
			mx = math.Max(mx, math.Abs(float64(w[o*in+i])))
		}
		if math.Abs(float64(ws[o])-mx/127) > 1e-7 {
			t.Fatalf("scale %d = %g, want %g", o, ws[o], mx/127)
		}
		for i := 0; i < in; i++ {
			if want := quantizeRef(w[o*in+i], ws[o], 0, -127, 127); int32(wq[o*in+i]) != want {
				t.Fatalf("weight %d,%d = %d, want %d", o, i, wq[o*in+i], want)
			}
		}
	}
	if b, _ := l.WeightBytes(); b != out*in+2*out*4 {
		t.Fatalf("weight bytes %d", b)
	}
	x := randF32(r, rows*in, 2)
	y := make([]float32, rows*out)
	must(t, l.Forward(rows, x, y))
	// The same numbers from the parts: x quantized to u8, the INT8 product, per-feature scales.
	xq := make([]uint8, len(x))
	xp, err := DynamicQuantizeU8(x, xq)
	must(t, err)
	acc := gemmRef(rows, out, in, func(i, k int) int64 { return int64(xq[i*in+k]) }, int64(xp.ZeroPoint),
		wq, true, func(int) int64 { return 0 }, nil)
	for i := 0; i < rows; i++ {
		for o := 0; o < out; o++ {
			want := float32(int32(acc[i*out+o]))*(xp.Scale*ws[o]) + bias[o]
			if y[i*out+o] != want {
				t.Fatalf("y[%d,%d] = %g, want %g", i, o, y[i*out+o], want)
			}
		}
	}
	wantError(t, l.Forward(rows, x[:7], y), StatusShape, "input holds 7 elements")
}

// ---- fixed point ---------------------------------------------------------------------------

func sat(v, lo, hi int64) int64 {
	return int64(math.Max(float64(lo), math.Min(float64(hi), float64(v))))
}

func TestFixedPoint(t *testing.T) {
	xs := []float32{0, 0.5, -0.5, 0.25, 1, -1, 2, -2, 1.0 / 65536, 3.0 / 65536, -3.0 / 65536,
		0.123456, -0.99999, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, c := range []struct {
		r   Rounding
		fun func(float64) float64
	}{{RoundTowardZero, math.Trunc}, {RoundNearestAway, math.Round}, {RoundNearestEven, math.RoundToEven}} {
		q := make([]int16, len(xs))
		must(t, FixedFromF32S16(xs, q, 15, c.r))
		for i, v := range xs {
			want := int64(0)
			if !math.IsNaN(float64(v)) {
				want = sat(int64(math.Max(-1e18, math.Min(1e18, c.fun(float64(v)*32768)))), -32768, 32767)
			}
			if int64(q[i]) != want {
				t.Fatalf("Q15 of %g (rounding %d) = %d, want %d", v, c.r, q[i], want)
			}
		}
		back := make([]float32, len(q))
		must(t, FixedToF32S16(q, back, 15))
		for i := range q {
			if back[i] != float32(float64(q[i])/32768) {
				t.Fatalf("Q15 %d -> %g", q[i], back[i])
			}
		}
	}
	q7 := make([]int8, 3)
	must(t, FixedFromF32S8([]float32{0.5, -1, 0.999}, q7, 7, RoundNearestEven))
	if fmt.Sprint(q7) != "[64 -128 127]" {
		t.Fatalf("Q7 = %v", q7)
	}
	q31 := make([]int32, 2)
	must(t, FixedFromF32S32([]float32{0.5, -1}, q31, 31, RoundNearestEven))
	if q31[0] != 1<<30 || q31[1] != math.MinInt32 {
		t.Fatalf("Q31 = %v", q31)
	}
	f := make([]float32, 2)
	must(t, FixedToF32S32(q31, f, 31))
	must(t, FixedToF32S8(q7[:2], f, 7))
	if f[0] != 0.5 || f[1] != -1 {
		t.Fatalf("Q7 back = %v", f)
	}

	r := rand.New(rand.NewSource(7))
	a16, b16 := make([]int16, 200), make([]int16, 200)
	for i := range a16 {
		a16[i], b16[i] = int16(r.Intn(65536)-32768), int16(r.Intn(65536)-32768)
	}
	a16[0], b16[0] = math.MinInt16, math.MinInt16 // the one product that saturates
	y16 := make([]int16, len(a16))
	must(t, FixedAddQ15(a16, b16, y16))
	for i := range a16 {
		if want := sat(int64(a16[i])+int64(b16[i]), -32768, 32767); int64(y16[i]) != want {
			t.Fatalf("add_q15(%d, %d) = %d, want %d", a16[i], b16[i], y16[i], want)
		}
	}
	must(t, FixedMultQ15(a16, b16, y16))
	for i := range a16 {
		if want := sat((int64(a16[i])*int64(b16[i]))>>15, -32768, 32767); int64(y16[i]) != want {
			t.Fatalf("mult_q15(%d, %d) = %d, want %d", a16[i], b16[i], y16[i], want)
		}
	}
	dot, err := FixedDotProdQ15(a16, b16)
	must(t, err)
	var want int64
	for i := range a16 {
		want += int64(a16[i]) * int64(b16[i])
	}
	if dot != want {
		t.Fatalf("dot_prod_q15 = %d, want %d", dot, want)
	}
	a8, b8, y8 := []int8{100, -100, -128, 64}, []int8{100, -100, -128, -64}, make([]int8, 4)
	must(t, FixedAddQ7(a8, b8, y8))
	if fmt.Sprint(y8) != "[127 -128 -128 0]" {
		t.Fatalf("add_q7 = %v", y8)
	}
	must(t, FixedMultQ7(a8, b8, y8))
	if fmt.Sprint(y8) != "[78 78 127 -32]" {
		t.Fatalf("mult_q7 = %v", y8)
	}
	a32, b32, y32 := []int32{math.MaxInt32, math.MinInt32, 1 << 30}, []int32{1, -1, 1 << 30}, make([]int32, 3)
	must(t, FixedAddQ31(a32, b32, y32))
	if y32[0] != math.MaxInt32 || y32[1] != math.MinInt32 || y32[2] != math.MaxInt32 {
		t.Fatalf("add_q31 = %v", y32)
	}
	must(t, FixedMultQ31(a32, b32, y32))
	if y32[2] != 1<<29 {
		t.Fatalf("mult_q31(0.5, 0.5) = %d, want %d", y32[2], 1<<29)
	}
	wantError(t, FixedAddQ15(a16, b16[:2], y16), StatusShape, "second operand holds 2 elements")
	wantError(t, FixedFromF32S16(xs, make([]int16, len(xs)), 16, RoundTowardZero), StatusInvalidArgument, "")

	m, err := QuantizeMultiplier(0.5)
	must(t, err)
	if m != (Multiplier{1 << 30, 0}) {
		t.Fatalf("QuantizeMultiplier(0.5) = %+v", m)
	}
	for _, real := range []float64{0.5, 0.3, 0.0123, 1.0 / 3} {
		m, err := QuantizeMultiplier(real)
		must(t, err)
		for _, x := range []int32{0, 1, -1, 1000, -12345, 1 << 20} {
			got := MultiplyByQuantizedMultiplier(x, m)
			if math.Abs(float64(got)-float64(x)*real) > 1 {
				t.Fatalf("%d * %g = %d", x, real, got)
			}
		}
	}
	_, err = QuantizeMultiplier(-1)
	wantError(t, err, StatusInvalidArgument, "")
	if SaturatingRoundingDoublingHighMul(math.MinInt32, math.MinInt32) != math.MaxInt32 ||
		SaturatingRoundingDoublingHighMul(1<<30, 1<<30) != 1<<29 {
		t.Fatal("saturating rounding doubling high mul")
	}
	if RoundingDivideByPOT(5, 1) != 3 || RoundingDivideByPOT(-5, 1) != -3 || RoundingDivideByPOT(4, 1) != 2 {
		t.Fatal("rounding divide by power of two")
	}
}

// ---- quantized ops and pruning -------------------------------------------------------------

func TestQOpsAndPrune(t *testing.T) {
	x, err := FromF32([]float32{-1, -0.5, 0, 0.5, 1, 2}, 6)
	must(t, err)
	q, err := QuantizeTensor(x, AsymmetricU8, -1)
	must(t, err)
	y, err := NewTensor(U8, 6)
	must(t, err)
	qp, _ := q.Quantization()
	must(t, y.SetQParams(qp.Scales[0], qp.ZeroPoints[0]))
	must(t, QReLU(q, y))
	f, err := DequantizeTensor(y)
	must(t, err)
	v, _ := f.F32()
	for i, want := range []float32{0, 0, 0, 0.5, 1, 2} {
		if math.Abs(float64(v[i]-want)) > float64(qp.Scales[0]) {
			t.Fatalf("relu[%d] = %g, want %g", i, v[i], want)
		}
	}
	must(t, QAdd(q, q, y))
	must(t, QScale(q, 0.5, y))
	closeAll(t, x, q, y, f)

	r := rand.New(rand.NewSource(8))
	w, err := FromF32(randF32(r, 8*16, 1), 8, 16)
	must(t, err)
	opts := DefaultPruneOptions()
	if opts.Pattern != PruneUnstructured || opts.Sparsity != 0.5 || opts.N != 2 || opts.M != 4 {
		t.Fatalf("default prune options %+v", opts)
	}
	opts.Pattern = PruneNM
	mask, err := PruneMask(w, opts)
	must(t, err)
	mv, err := mask.U8()
	must(t, err)
	for g := 0; g < len(mv); g += 4 {
		if kept := int(mv[g]) + int(mv[g+1]) + int(mv[g+2]) + int(mv[g+3]); kept != 2 {
			t.Fatalf("group %d keeps %d of 4", g/4, kept)
		}
	}
	must(t, PruneApply(w, mask))
	wv, _ := w.F32()
	for i := range wv {
		if (mv[i] == 0) != (wv[i] == 0) {
			t.Fatalf("weight %d = %g with mask %d", i, wv[i], mv[i])
		}
	}
	opts.Pattern, opts.M = PruneNM, 5 // 16 columns are not a multiple of 5
	_, err = PruneMask(w, opts)
	wantError(t, err, StatusShape, "")
	closeAll(t, w, mask)
}

// ---- errors --------------------------------------------------------------------------------

func TestErrors(t *testing.T) {
	_, err := FromF32([]float32{1, 2, 3}, 2, 2)
	wantError(t, err, StatusShape, "array holds 3 elements; expected 4")
	if !errors.Is(err, ErrShape) || errors.Is(err, ErrDType) || errors.Is(err, ErrClosed) {
		t.Fatalf("errors.Is on %v", err)
	}
	if !strings.HasPrefix(err.Error(), "q8: Q8_ERR_SHAPE: ") {
		t.Fatalf("Error() = %q", err.Error())
	}
	_, err = NewTensor(F32, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	wantError(t, err, StatusShape, "rank 9 exceeds 8")

	x, err := FromF32([]float32{1, 2}, 2)
	must(t, err)
	defer x.Close()
	y, err := NewTensor(F32, 2)
	must(t, err)
	defer y.Close()
	// A q8_status failure carries q8_last_error()'s text, naming the function and argument.
	err = Quantize(x, y)
	wantError(t, err, StatusDType, "q8_quantize")
	wantError(t, x.SetQParams(0.1, 0), StatusDType, "")
	s8, err := NewTensor(S8, 2)
	must(t, err)
	defer s8.Close()
	wantError(t, s8.SetQParams(0, 0), StatusInvalidArgument, "scale")
	wantError(t, s8.SetQParams(1, 300), StatusInvalidArgument, "")
	wantError(t, x.CopyFromS8([]int8{1, 2}), StatusDType, "tensor is f32, the array is s8")
	wantError(t, x.CopyToF32(make([]float32, 3)), StatusShape, "array holds 3 elements; expected 2")
	wantError(t, GemmU8S8(2, 2, 2, []uint8{1, 2, 3}, 0, []int8{1, 2, 3, 4}, false, 0, nil, make([]int32, 4)),
		StatusShape, "a holds 3 elements; expected 4")
	wantError(t, GemmU8S8(-1, 2, 2, nil, 0, nil, false, 0, nil, nil), StatusShape, ">= 0")
	wantError(t, GemmU8S8(1, 2, 1, []uint8{1}, 0, []int8{1, 2}, false, 0, []int32{1}, make([]int32, 2)),
		StatusShape, "bias holds 1 elements; expected 2")
	bad := DefaultObserverOptions()
	bad.Kind = ObserverKind(99)
	_, err = NewObserver(bad)
	wantError(t, err, StatusInvalidArgument, "")

	missing := filepath.Join(t.TempDir(), "missing.onnx")
	_, err = LoadONNX(missing)
	wantError(t, err, StatusIO, "")
	_, err = LoadONNXBytes([]byte("not a model"))
	wantError(t, err, StatusFormat, "")
	_, err = LoadModelBytes([]byte("not a q8 file either"))
	wantError(t, err, StatusFormat, "")

	// Failures on many goroutines at once: each gets its own message (the message is taken in
	// the same C call that failed, never from another goroutine's).
	var wg sync.WaitGroup
	fails := make(chan string, 64)
	for g := 1; g <= 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				n := g*1000 + i
				_, err := FromF32(make([]float32, n), int64(n+1))
				want := fmt.Sprintf("array holds %d elements; expected %d", n, n+1)
				var e *Error
				if !errors.As(err, &e) || e.Message != want {
					fails <- fmt.Sprintf("goroutine %d: %v, want %q", g, err, want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(fails)
	for f := range fails {
		t.Error(f)
	}
}

// ---- closed objects ------------------------------------------------------------------------

func wantClosed(t *testing.T, err error, what string) {
	t.Helper()
	wantError(t, err, StatusState, what+" is closed")
	if !errors.Is(err, ErrClosed) || !errors.Is(err, ErrState) {
		t.Fatalf("errors.Is(%v, ErrClosed) is false", err)
	}
}

func TestClosedObjects(t *testing.T) {
	x, err := FromF32([]float32{1, 2, 3, 4}, 4)
	must(t, err)
	y, err := NewTensor(U8, 4)
	must(t, err)
	must(t, y.SetQParams(0.1, 0))
	must(t, x.Close())
	must(t, x.Close()) // a second Close does nothing
	_, err = x.F32()
	wantClosed(t, err, "Tensor")
	_, err = x.Shape()
	wantClosed(t, err, "Tensor")
	wantClosed(t, x.Reshape(2, 2), "Tensor")
	wantClosed(t, Quantize(x, y), "Tensor")
	_, err = QuantizeTensor(x, AsymmetricU8, -1)
	wantClosed(t, err, "Tensor")
	if x.Raw() != nil {
		t.Fatal("a closed tensor still has a raw handle")
	}
	var nilTensor *Tensor
	must(t, nilTensor.Close())
	_, err = nilTensor.Len()
	wantClosed(t, err, "Tensor")

	obs, err := NewObserver(DefaultObserverOptions())
	must(t, err)
	must(t, obs.Close())
	must(t, obs.Close())
	wantClosed(t, obs.Update(y), "Observer")
	wantClosed(t, obs.Reset(), "Observer")
	obs2, err := NewObserver(DefaultObserverOptions())
	must(t, err)
	wantClosed(t, obs2.Update(x), "Tensor") // an open observer, a closed argument
	must(t, obs2.Close())

	p, err := NewPackedMatrix(1, 1, []int8{1}, false, nil)
	must(t, err)
	closeAll(t, p, p)
	wantClosed(t, p.MultiplyS32(1, []uint8{1}, 0, nil, make([]int32, 1)), "PackedMatrix")
	l, err := NewDynamicLinear(1, 1, []float32{1}, nil)
	must(t, err)
	closeAll(t, l, l)
	wantClosed(t, l.Forward(1, []float32{1}, make([]float32, 1)), "DynamicLinear")
	_, err = l.Weights()
	wantClosed(t, err, "DynamicLinear")
	must(t, y.Close())

	// The raw layer refuses a nil handle too (go.swg's check on self), with a panic of *raw.Error.
	func() {
		defer func() {
			e, ok := recover().(*raw.Error)
			if !ok || e.Status != raw.Q8_ERR_STATE || e.Message != "Tensor is closed" {
				t.Fatalf("raw method on a nil handle: recovered %v", e)
			}
		}()
		raw.SwigcptrTensor(0).Numel()
		t.Fatal("no panic")
	}()
}

// ---- models --------------------------------------------------------------------------------

func dataDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("Q8_TEST_DATA")
	if d == "" {
		t.Fatal("Q8_TEST_DATA is not set (meson test sets it to tests/data)")
	}
	return d
}

type digits struct {
	x []float32 // rows x 64, pixel / 16
	y []int
}

var digitsOnce struct {
	sync.Once
	all digits
	err error
}

// loadDigits reads tests/data/digits.csv.gz: 64 pixels (0-16) then the label, per row.
func loadDigits(t *testing.T) (train, test digits) {
	t.Helper()
	dir := dataDir(t)
	digitsOnce.Do(func() {
		f, err := os.Open(filepath.Join(dir, "digits.csv.gz"))
		if err != nil {
			digitsOnce.err = err
			return
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			digitsOnce.err = err
			return
		}
		s := bufio.NewScanner(z)
		for s.Scan() {
			fields := strings.Split(strings.TrimSpace(s.Text()), ",")
			if len(fields) != 65 {
				digitsOnce.err = fmt.Errorf("a row of %d fields", len(fields))
				return
			}
			for j, v := range fields {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					digitsOnce.err = err
					return
				}
				if j < 64 {
					digitsOnce.all.x = append(digitsOnce.all.x, float32(n/16.0))
				} else {
					digitsOnce.all.y = append(digitsOnce.all.y, int(n))
				}
			}
		}
		digitsOnce.err = s.Err()
	})
	must(t, digitsOnce.err)
	all := digitsOnce.all
	if len(all.y) != 1797 {
		t.Fatalf("digits.csv.gz has %d rows, want 1797", len(all.y))
	}
	for i, label := range all.y {
		part := &train
		if i%4 == 0 { // the held-out split of scripts/train_digits.py
			part = &test
		}
		part.x = append(part.x, all.x[i*64:(i+1)*64]...)
		part.y = append(part.y, label)
	}
	return
}

// batchTensor is rows [first, first+n) of d, shaped as the model's input.
func batchTensor(t *testing.T, d digits, first, n int, cnn bool) *Tensor {
	t.Helper()
	shape := []int64{int64(n), 64}
	if cnn {
		shape = []int64{int64(n), 1, 8, 8}
	}
	x, err := FromF32(d.x[first*64:(first+n)*64], shape...)
	must(t, err)
	return x
}

// accuracy runs m over the held-out rows in batches of 150 and returns top-1 accuracy in %.
func accuracy(t *testing.T, m *Model, test digits, cnn bool) float64 {
	t.Helper()
	const batch = 150
	s, err := NewSession(m, batch)
	must(t, err)
	defer s.Close()
	correct := 0
	for first := 0; first < len(test.y); first += batch {
		x := batchTensor(t, test, first, batch, cnn)
		must(t, s.Run(x))
		out, err := s.Output(0)
		must(t, err)
		logits, err := out.F32()
		must(t, err)
		for i := 0; i < batch; i++ {
			best := 0
			for c := 1; c < 10; c++ {
				if logits[i*10+c] > logits[i*10+best] {
					best = c
				}
			}
			if best == test.y[first+i] {
				correct++
			}
		}
		closeAll(t, x, out)
	}
	return 100 * float64(correct) / float64(len(test.y))
}

func TestModelsStaticQuantization(t *testing.T) {
	train, test := loadDigits(t)
	if len(test.y) != 450 {
		t.Fatalf("%d held-out rows, want 450", len(test.y))
	}
	for _, c := range []struct {
		name string
		cnn  bool
		fp32 float64 // tests/data/models/fp32_accuracy.json
	}{{"mlp", false, 97.3333}, {"cnn", true, 99.3333}} {
		fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_"+c.name+".onnx"))
		must(t, err)
		if n, _ := fp32.InputCount(); n != 1 {
			t.Fatalf("%s: %d inputs", c.name, n)
		}
		if name, _ := fp32.InputName(0); name != "input" {
			t.Fatalf("%s: input %q", c.name, name)
		}
		if name, _ := fp32.OutputName(0); name != "logits" {
			t.Fatalf("%s: output %q", c.name, name)
		}
		accFP32 := accuracy(t, fp32, test, c.cnn)
		if math.Abs(accFP32-c.fp32) > 0.01 {
			t.Fatalf("%s: FP32 accuracy %.2f %%, fp32_accuracy.json says %.2f %%", c.name, accFP32, c.fp32)
		}

		var batches [][]*Tensor
		for first := 0; first+128 <= 512; first += 128 {
			batches = append(batches, []*Tensor{batchTensor(t, train, first, 128, c.cnn)})
		}
		opts := DefaultPTQOptions()
		if opts.Mode != PTQStatic || !opts.PerChannel || opts.WeightScheme != SymmetricNarrow ||
			opts.ActivationScheme != AsymmetricU8 {
			t.Fatalf("default PTQ options %+v", opts)
		}
		int8, err := fp32.Quantize(opts, batches)
		must(t, err)
		for _, b := range batches {
			must(t, b[0].Close())
		}
		accINT8 := accuracy(t, int8, test, c.cnn)
		t.Logf("%s: FP32 %.2f %%, INT8 static %.2f %%", c.name, accFP32, accINT8)
		if accINT8 < accFP32-1 {
			t.Fatalf("%s: INT8 accuracy %.2f %% is more than 1 point below FP32 %.2f %%", c.name, accINT8, accFP32)
		}
		fb, _ := fp32.WeightBytes()
		ib, _ := int8.WeightBytes()
		if ib*3 > fb {
			t.Fatalf("%s: INT8 weights %d bytes vs FP32 %d", c.name, ib, fb)
		}
		desc, err := int8.Describe(false)
		must(t, err)
		if !strings.Contains(desc, "Gemm") && !strings.Contains(desc, "QLinear") && !strings.Contains(desc, "Conv") {
			t.Fatalf("%s: describe says %q", c.name, desc)
		}

		// A .q8 file round trip gives the same logits.
		path := filepath.Join(t.TempDir(), c.name+".q8")
		must(t, int8.Save(path))
		loaded, err := LoadModel(path)
		must(t, err)
		if a := accuracy(t, loaded, test, c.cnn); a != accINT8 {
			t.Fatalf("%s: saved and loaded model: %.2f %%, before %.2f %%", c.name, a, accINT8)
		}
		bytes, err := os.ReadFile(path)
		must(t, err)
		fromBytes, err := LoadModelBytes(bytes)
		must(t, err)
		// So does ONNX export (QDQ) read back by q8.
		onnxPath := filepath.Join(t.TempDir(), c.name+".onnx")
		must(t, int8.ExportONNX(onnxPath))
		exported, err := LoadONNX(onnxPath)
		must(t, err)
		if a := accuracy(t, exported, test, c.cnn); a != accINT8 {
			t.Fatalf("%s: exported and reloaded ONNX: %.2f %%, before %.2f %%", c.name, a, accINT8)
		}
		wantError(t, int8.ExportONNX(filepath.Join(t.TempDir(), "no", "such", "dir", "m.onnx")), StatusIO, "")

		// Calibration with the wrong input shape names the problem.
		bad := []*Tensor{batchTensor(t, train, 0, 4, !c.cnn)}
		_, err = fp32.Quantize(opts, [][]*Tensor{bad})
		if err == nil {
			t.Fatalf("%s: calibration of the wrong shape accepted", c.name)
		}
		closeAll(t, bad[0], fp32, int8, loaded, fromBytes, exported)
	}
}

// Feature extraction and a head on top: the extracted model computes the full model's tensor,
// and the MLP appended to itself at its input is the MLP again.
func TestModelExtractAndAppend(t *testing.T) {
	_, test := loadDigits(t)
	fp32, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_mlp.onnx"))
	must(t, err)
	const features = "/3/Relu_output_0" // the last hidden activation, 256 wide
	body, err := fp32.Extract(features, true)
	must(t, err)
	twice, err := fp32.Append(fp32, "input")
	must(t, err)
	x := batchTensor(t, test, 0, 16, false)
	run := func(m *Model, tensor string) []float32 {
		s, err := NewSession(m, 16)
		must(t, err)
		must(t, s.Run(x))
		var out *Tensor
		if tensor == "" {
			out, err = s.Output(0)
		} else {
			out, err = s.Tensor(tensor)
		}
		must(t, err)
		v, err := out.F32()
		must(t, err)
		closeAll(t, out, s)
		return v
	}
	same := func(what string, got, want []float32) {
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	same("extracted features", run(body, ""), run(fp32, features))
	same("appended model's logits", run(twice, ""), run(fp32, ""))
	if n, _ := twice.NodeCount(); n != 5 { // nothing of the base is needed but its input
		t.Fatalf("appended at the input: %d nodes, want the head's 5", n)
	}
	_, err = fp32.Extract("no such tensor", true)
	wantError(t, err, StatusInvalidArgument, "no such tensor")
	_, err = fp32.Append(fp32, "no such tensor")
	wantError(t, err, StatusInvalidArgument, "no such tensor")
	closeAll(t, x, body, twice, fp32)
	if _, err := fp32.Extract(features, true); !errors.Is(err, ErrClosed) {
		t.Fatalf("Extract on a closed model: %v", err)
	}
}

func TestModelDynamicAndSessionLifetime(t *testing.T) {
	_, test := loadDigits(t)
	data, err := os.ReadFile(filepath.Join(dataDir(t), "models", "digits_mlp.onnx"))
	must(t, err)
	fp32, err := LoadONNXBytes(data)
	must(t, err)
	opts := DefaultPTQOptions()
	opts.Mode = PTQDynamic
	dyn, err := fp32.Quantize(opts, nil)
	must(t, err)
	must(t, fp32.Close())
	if a := accuracy(t, dyn, test, false); a < 97.3333-1 {
		t.Fatalf("dynamic INT8 accuracy %.2f %%", a)
	}

	// A session keeps its model: closing the model first leaves the session working, and the
	// model's handle is freed with the last session.
	live := LiveHandles()
	s, err := NewSession(dyn, 2)
	must(t, err)
	if LiveHandles() != live+1 {
		t.Fatalf("a session is not counted: %d -> %d", live, LiveHandles())
	}
	must(t, dyn.Close())
	_, err = dyn.InputCount()
	wantClosed(t, err, "Model")
	_, err = NewSession(dyn, 1)
	wantClosed(t, err, "Model")
	_, err = s.Output(0)
	wantError(t, err, StatusState, "") // no run yet
	x := batchTensor(t, test, 0, 2, false)
	must(t, s.Run(x))
	hidden, err := s.Tensor("logits")
	must(t, err)
	out, err := s.Output(0)
	must(t, err)
	a, _ := hidden.F32()
	b, _ := out.F32()
	if len(a) != 20 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("session tensor %v, output %v", a, b)
	}
	_, err = s.Tensor("no such tensor")
	wantError(t, err, StatusInvalidArgument, "")
	wrong := batchTensor(t, test, 0, 3, false)
	wantError(t, s.Run(wrong), StatusShape, "")
	wantError(t, s.Run(x, x), StatusInvalidArgument, "") // one input, not two
	closeAll(t, x, wrong, hidden, out)
	if LiveHandles() != live+1 { // the session, and the model it holds
		t.Fatalf("before closing the session: %d live, want %d", LiveHandles(), live+1)
	}
	must(t, s.Close())
	must(t, s.Close())
	if LiveHandles() != live-1 {
		t.Fatalf("after closing the session: %d live, want %d (model freed with it)", LiveHandles(), live-1)
	}
	wantClosed(t, s.Run(x), "Session")
}

// ---- finalizers and the leak check (last) --------------------------------------------------

// waitLive collects garbage until LiveHandles reaches want or ten seconds pass.
func waitLive(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	for LiveHandles() != want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	return LiveHandles()
}

func TestFinalizersFreeForgottenObjects(t *testing.T) {
	before := LiveHandles()
	func() {
		// Made and dropped without Close: the finalizers free them.
		for i := 0; i < 20; i++ {
			x, err := FromF32([]float32{1, 2, 3}, 3)
			must(t, err)
			_ = x
		}
		_, err := NewObserver(DefaultObserverOptions())
		must(t, err)
		_, err = NewPackedMatrix(2, 2, []int8{1, 2, 3, 4}, false, nil)
		must(t, err)
		_, err = NewDynamicLinear(2, 2, []float32{1, 2, 3, 4}, nil)
		must(t, err)
		m, err := LoadONNX(filepath.Join(dataDir(t), "models", "digits_mlp.onnx"))
		must(t, err)
		_, err = NewSession(m, 1) // holds m: the session's finalizer runs first, then the model's
		must(t, err)
	}()
	if LiveHandles() <= before {
		t.Fatalf("%d live handles, %d before: the objects were not counted", LiveHandles(), before)
	}
	if got := waitLive(before); got != before {
		t.Fatalf("%d live handles after collecting, want %d", got, before)
	}
}

// Runs last (tests run in file order): every test closed what it made, so nothing is live even
// before collecting; anything still live after collecting would be a leak. In a sanitized build
// LeakSanitizer then checks that no C/C++ memory is left unreachable.
func TestZZNoLiveHandles(t *testing.T) {
	if n := LiveHandles(); n != 0 {
		t.Errorf("%d q8 handles live after every test closed its objects", n)
		if got := waitLive(0); got != 0 {
			t.Fatalf("%d q8 handles still live after collecting: leaked", got)
		}
	}
	switch ran, leaked := lsan.Check(); {
	case leaked:
		t.Fatal("LeakSanitizer found leaks (its report is above)")
	case ran:
		t.Log("LeakSanitizer: no leaks")
	default:
		t.Log("not a sanitized build: LeakSanitizer not loaded")
	}
}
