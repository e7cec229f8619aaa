package q8

import "q8.dev/q8/raw"

// Quantize converts x (f32) into y (s8, u8 or s32) with y's quantization parameters:
// q = clamp(round_half_even(x / scale) + zero_point), exactly ONNX QuantizeLinear.
func Quantize(x, y *Tensor) error { return tensorCall(raw.Quantize, x, y) }

// Dequantize converts q (with parameters) into y (f32): x = (q - zero_point) * scale.
func Dequantize(q, y *Tensor) error { return tensorCall(raw.Dequantize, q, y) }

// Requantize converts q into y with y's own parameters or dtype: quantize(dequantize(q)).
func Requantize(q, y *Tensor) error { return tensorCall(raw.Requantize, q, y) }

// QuantizeTensor quantizes x (f32) with parameters from its own min and max under scheme, per
// tensor (axis -1) or per index of axis, into a new tensor of the scheme's dtype.
func QuantizeTensor(x *Tensor, scheme Scheme, axis int) (q *Tensor, err error) {
	err = x.do(func(h raw.Tensor) { q = newTensor(raw.Quantize_tensor(h, raw.Q8_scheme(scheme), axis)) })
	return
}

// DequantizeTensor is the new f32 tensor a quantized one stands for.
func DequantizeTensor(q *Tensor) (x *Tensor, err error) {
	err = q.do(func(h raw.Tensor) { x = newTensor(raw.Dequantize_tensor(h)) })
	return
}

// qparams copies a QParams the raw package returned (C++ memory) and frees it.
func qparams(p raw.QParams) QParams {
	defer raw.DeleteQParams(p)
	return QParams{Scale: p.GetScale(), ZeroPoint: int32(p.GetZero_point())}
}

// QParamsFromRange is the scale and zero point of the range [min, max] under scheme.
func QParamsFromRange(scheme Scheme, min, max float32) (p QParams, err error) {
	err = call(func() { p = qparams(raw.Qparams_from_range(raw.Q8_scheme(scheme), min, max)) })
	return
}

// DynamicQuantizeU8 quantizes x into q (same length) to u8 with the range of x widened to
// include 0 (ONNX DynamicQuantizeLinear), and returns the parameters it chose.
func DynamicQuantizeU8(x []float32, q []uint8) (p QParams, err error) {
	err = call(func() { p = qparams(raw.Dynamic_quantize_u8(x, q)) })
	return
}

// QAdd is y = a + b on quantized tensors (each with its own parameters; see qops.h).
func QAdd(a, b, y *Tensor) error { return tensorCall3(raw.Qadd, a, b, y) }

// QMul is y = a * b on quantized tensors.
func QMul(a, b, y *Tensor) error { return tensorCall3(raw.Qmul, a, b, y) }

// QScale is y = c * x on a quantized tensor.
func QScale(x *Tensor, c float32, y *Tensor) error {
	return tensorCall(func(a, b raw.Tensor) error { return raw.Qscale(a, c, b) }, x, y)
}

// QReLU is y = max(x, 0) on a quantized tensor.
func QReLU(x, y *Tensor) error { return tensorCall(raw.Qrelu, x, y) }

// QSigmoid is y = sigmoid(x) on a quantized tensor.
func QSigmoid(x, y *Tensor) error { return tensorCall(raw.Qsigmoid, x, y) }

// QTanh is y = tanh(x) on a quantized tensor.
func QTanh(x, y *Tensor) error { return tensorCall(raw.Qtanh, x, y) }

// QMatMul is y = a b (+ bias, which may be nil) on quantized tensors.
func QMatMul(a, b, bias, y *Tensor) error {
	hs, err := handles(a, b, bias, y)
	if err != nil {
		return err
	}
	defer keepAlive(a, b, bias, y)
	return fromRaw(raw.Qmatmul(hs[0], hs[1], hs[2], hs[3]))
}

func tensorCall3(f func(a, b, c raw.Tensor) error, a, b, c *Tensor) error {
	hs, err := handles(a, b, c)
	if err != nil {
		return err
	}
	defer keepAlive(a, b, c)
	return fromRaw(f(hs[0], hs[1], hs[2]))
}
