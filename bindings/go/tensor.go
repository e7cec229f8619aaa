package q8

import (
	"runtime"
	"sync"

	"q8.dev/q8/raw"
)

// Tensor is a dense row-major tensor (rank 0 to 8) of f32, s8, u8 or s32 elements, with optional
// quantization parameters, in memory owned by q8 (64-byte aligned). Close frees it.
type Tensor struct {
	mu sync.Mutex
	h  raw.Tensor // nil once closed
}

// newTensor wraps a handle the raw package returned and arms the finalizer.
func newTensor(h raw.Tensor) *Tensor {
	t := &Tensor{h: h}
	runtime.SetFinalizer(t, (*Tensor).Close)
	return t
}

// NewTensor makes a zero-filled tensor of dtype and shape (no dimensions: a scalar).
func NewTensor(dtype DType, shape ...int64) (t *Tensor, err error) {
	err = call(func() { t = newTensor(raw.NewTensor(raw.Q8_dtype(dtype), shape)) })
	return
}

// FromF32 makes an f32 tensor holding a copy of data, of the given shape (len(data) elements).
func FromF32(data []float32, shape ...int64) (t *Tensor, err error) {
	err = call(func() { t = newTensor(raw.TensorFromF32(data, shape)) })
	return
}

// FromS8 makes an s8 tensor holding a copy of data.
func FromS8(data []int8, shape ...int64) (t *Tensor, err error) {
	err = call(func() { t = newTensor(raw.TensorFromS8(data, shape)) })
	return
}

// FromU8 makes a u8 tensor holding a copy of data.
func FromU8(data []uint8, shape ...int64) (t *Tensor, err error) {
	err = call(func() { t = newTensor(raw.TensorFromU8(data, shape)) })
	return
}

// FromS32 makes an s32 tensor holding a copy of data.
func FromS32(data []int32, shape ...int64) (t *Tensor, err error) {
	err = call(func() { t = newTensor(raw.TensorFromS32(data, shape)) })
	return
}

// Close frees the tensor. Closing again does nothing; other methods then return ErrClosed.
func (t *Tensor) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h != nil {
		raw.DeleteTensor(t.h)
		t.h = nil
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

// Raw is the handle for calls of the raw package (nil once closed). It is valid until Close;
// keep t alive (runtime.KeepAlive) until the raw call returns.
func (t *Tensor) Raw() raw.Tensor {
	if t == nil {
		return nil
	}
	return t.h
}

// do runs f on the open handle, as call does, and keeps t alive until f returns.
func (t *Tensor) do(f func(h raw.Tensor)) error {
	if t == nil || t.h == nil {
		return closed("Tensor")
	}
	defer runtime.KeepAlive(t)
	return call(func() { f(t.h) })
}

// handles returns the open handles of tensors passed to a function (a nil *Tensor is allowed
// where the C call takes an optional tensor), or ErrClosed naming the first closed one.
func handles(ts ...*Tensor) ([]raw.Tensor, error) {
	hs := make([]raw.Tensor, len(ts))
	for i, t := range ts {
		if t == nil {
			continue
		}
		if t.h == nil {
			return nil, closed("Tensor")
		}
		hs[i] = t.h
	}
	return hs, nil
}

// keepAlive keeps tensors (and so their finalizers) alive until a C call that uses their handles
// has returned: call it deferred.
func keepAlive(ts ...*Tensor) {
	for _, t := range ts {
		runtime.KeepAlive(t)
	}
}

// Clone is a deep copy, quantization parameters included.
func (t *Tensor) Clone() (c *Tensor, err error) {
	err = t.do(func(h raw.Tensor) { c = newTensor(h.Clone()) })
	return
}

// DType is the element type.
func (t *Tensor) DType() (d DType, err error) {
	err = t.do(func(h raw.Tensor) { d = DType(h.Dtype()) })
	return
}

// Shape is a copy of the dimensions.
func (t *Tensor) Shape() (shape []int64, err error) {
	err = t.do(func(h raw.Tensor) {
		shape = make([]int64, h.Rank())
		for i := range shape {
			shape[i] = h.Dim(int64(i))
		}
	})
	return
}

// Len is the element count.
func (t *Tensor) Len() (n int, err error) {
	err = t.do(func(h raw.Tensor) { n = int(h.Numel()) })
	return
}

// NBytes is the storage size in bytes.
func (t *Tensor) NBytes() (n int, err error) {
	err = t.do(func(h raw.Tensor) { n = int(h.Nbytes()) })
	return
}

// Reshape gives the tensor a new shape with the same element count.
func (t *Tensor) Reshape(shape ...int64) error {
	return t.do(func(h raw.Tensor) { h.Reshape(shape) })
}

// CopyFromF32 overwrites the elements of an f32 tensor with src (len(src) == Len()).
func (t *Tensor) CopyFromF32(src []float32) error {
	return t.do(func(h raw.Tensor) { h.CopyFromF32(src) })
}

// CopyFromS8 overwrites the elements of an s8 tensor.
func (t *Tensor) CopyFromS8(src []int8) error { return t.do(func(h raw.Tensor) { h.CopyFromS8(src) }) }

// CopyFromU8 overwrites the elements of a u8 tensor.
func (t *Tensor) CopyFromU8(src []uint8) error { return t.do(func(h raw.Tensor) { h.CopyFromU8(src) }) }

// CopyFromS32 overwrites the elements of an s32 tensor.
func (t *Tensor) CopyFromS32(src []int32) error {
	return t.do(func(h raw.Tensor) { h.CopyFromS32(src) })
}

// CopyToF32 copies the elements of an f32 tensor into dst (len(dst) == Len()).
func (t *Tensor) CopyToF32(dst []float32) error { return t.do(func(h raw.Tensor) { h.CopyToF32(dst) }) }

// CopyToS8 copies the elements of an s8 tensor into dst.
func (t *Tensor) CopyToS8(dst []int8) error { return t.do(func(h raw.Tensor) { h.CopyToS8(dst) }) }

// CopyToU8 copies the elements of a u8 tensor into dst.
func (t *Tensor) CopyToU8(dst []uint8) error { return t.do(func(h raw.Tensor) { h.CopyToU8(dst) }) }

// CopyToS32 copies the elements of an s32 tensor into dst.
func (t *Tensor) CopyToS32(dst []int32) error { return t.do(func(h raw.Tensor) { h.CopyToS32(dst) }) }

// F32 is a new slice holding the elements of an f32 tensor.
func (t *Tensor) F32() (v []float32, err error) {
	err = t.do(func(h raw.Tensor) {
		v = make([]float32, h.Numel())
		h.CopyToF32(v)
	})
	return
}

// S8 is a new slice holding the elements of an s8 tensor.
func (t *Tensor) S8() (v []int8, err error) {
	err = t.do(func(h raw.Tensor) {
		v = make([]int8, h.Numel())
		h.CopyToS8(v)
	})
	return
}

// U8 is a new slice holding the elements of a u8 tensor.
func (t *Tensor) U8() (v []uint8, err error) {
	err = t.do(func(h raw.Tensor) {
		v = make([]uint8, h.Numel())
		h.CopyToU8(v)
	})
	return
}

// S32 is a new slice holding the elements of an s32 tensor.
func (t *Tensor) S32() (v []int32, err error) {
	err = t.do(func(h raw.Tensor) {
		v = make([]int32, h.Numel())
		h.CopyToS32(v)
	})
	return
}

// SetQParams sets per-tensor quantization parameters (scale finite and > 0, zero point inside
// the dtype's range).
func (t *Tensor) SetQParams(scale float32, zeroPoint int32) error {
	return t.do(func(h raw.Tensor) { h.SetQParams(scale, int(zeroPoint)) })
}

// SetQParamsPerAxis sets one scale and zero point per index of axis (negative counts from the
// end); both slices have the axis' length.
func (t *Tensor) SetQParamsPerAxis(axis int, scales []float32, zeroPoints []int32) error {
	return t.do(func(h raw.Tensor) { h.SetQParamsPerAxis(axis, scales, zeroPoints) })
}

// ClearQParams drops the quantization parameters.
func (t *Tensor) ClearQParams() error { return t.do(func(h raw.Tensor) { h.ClearQParams() }) }

// Quantization describes a tensor's parameters: none (no scales), per tensor (Axis -1, one
// scale) or per index of Axis.
type Quantization struct {
	Axis       int
	Scales     []float32
	ZeroPoints []int32
}

// Quantization is a copy of the tensor's quantization parameters.
func (t *Tensor) Quantization() (q Quantization, err error) {
	err = t.do(func(h raw.Tensor) {
		n := h.QparamsCount()
		q.Axis = h.QparamsAxis()
		q.Scales = make([]float32, n)
		q.ZeroPoints = make([]int32, n)
		h.CopyScales(q.Scales)
		h.CopyZeroPoints(q.ZeroPoints)
	})
	return
}

// CopyTensor copies the elements of src into dst: same dtype and element count (shapes may
// differ); quantization parameters are not copied.
func CopyTensor(src, dst *Tensor) error { return tensorCall(raw.Tensor_copy, src, dst) }

// tensorCall runs a q8_status function of two tensors.
func tensorCall(f func(a, b raw.Tensor) error, a, b *Tensor) error {
	hs, err := handles(a, b)
	if err != nil {
		return err
	}
	defer keepAlive(a, b)
	return fromRaw(f(hs[0], hs[1]))
}
