package q8

import "q8.dev/q8/raw"

// Fixed point: Qm.n values in int8/int16/int32 with CMSIS-DSP's bits (q8/fixed.h). Array calls
// write into a destination slice of the source's length (it may be the source itself).

// Rounding is how a real value is rounded to the fixed-point grid.
type Rounding int

const (
	RoundTowardZero  Rounding = 0 // truncate (CMSIS-DSP's default build)
	RoundNearestAway Rounding = 1 // nearest, ties away from zero (ARM_MATH_ROUNDING, exactly)
	RoundNearestEven Rounding = 2 // nearest, ties to even (IEEE, ONNX)
)

// FixedFromF32S8 is dst = saturate(round(src * 2^fracBits)) in int8 (fracBits 7: Q7).
func FixedFromF32S8(src []float32, dst []int8, fracBits int, r Rounding) error {
	return call(func() { raw.Fixed_from_f32_s8(src, dst, fracBits, raw.Q8_rounding(r)) })
}

// FixedFromF32S16 is the int16 form (fracBits 15: Q15).
func FixedFromF32S16(src []float32, dst []int16, fracBits int, r Rounding) error {
	return call(func() { raw.Fixed_from_f32_s16(src, dst, fracBits, raw.Q8_rounding(r)) })
}

// FixedFromF32S32 is the int32 form (fracBits 31: Q31).
func FixedFromF32S32(src []float32, dst []int32, fracBits int, r Rounding) error {
	return call(func() { raw.Fixed_from_f32_s32(src, dst, fracBits, raw.Q8_rounding(r)) })
}

// FixedToF32S8 is dst = src / 2^fracBits.
func FixedToF32S8(src []int8, dst []float32, fracBits int) error {
	return call(func() { raw.Fixed_to_f32_s8(src, dst, fracBits) })
}

// FixedToF32S16 is the int16 form.
func FixedToF32S16(src []int16, dst []float32, fracBits int) error {
	return call(func() { raw.Fixed_to_f32_s16(src, dst, fracBits) })
}

// FixedToF32S32 is the int32 form.
func FixedToF32S32(src []int32, dst []float32, fracBits int) error {
	return call(func() { raw.Fixed_to_f32_s32(src, dst, fracBits) })
}

// FixedAddQ7 is dst = saturate(a + b) (arm_add_q7).
func FixedAddQ7(a, b, dst []int8) error { return call(func() { raw.Fixed_add_q7(a, b, dst) }) }

// FixedMultQ7 is dst = saturate((a * b) >> 7) (arm_mult_q7).
func FixedMultQ7(a, b, dst []int8) error { return call(func() { raw.Fixed_mult_q7(a, b, dst) }) }

// FixedAddQ15 is dst = saturate(a + b) (arm_add_q15).
func FixedAddQ15(a, b, dst []int16) error { return call(func() { raw.Fixed_add_q15(a, b, dst) }) }

// FixedMultQ15 is dst = saturate((a * b) >> 15) (arm_mult_q15).
func FixedMultQ15(a, b, dst []int16) error { return call(func() { raw.Fixed_mult_q15(a, b, dst) }) }

// FixedAddQ31 is dst = saturate(a + b) (arm_add_q31).
func FixedAddQ31(a, b, dst []int32) error { return call(func() { raw.Fixed_add_q31(a, b, dst) }) }

// FixedMultQ31 is dst = saturate((a * b) >> 31) (arm_mult_q31).
func FixedMultQ31(a, b, dst []int32) error { return call(func() { raw.Fixed_mult_q31(a, b, dst) }) }

// FixedDotProdQ15 is sum(a[i] * b[i]) in 64 bits (arm_dot_prod_q15: a Q34.30 result).
func FixedDotProdQ15(a, b []int16) (r int64, err error) {
	err = call(func() { r = raw.Fixed_dot_prod_q15(a, b) })
	return
}

// Multiplier is a real multiplier as a Q31 fixed-point multiplier and a power-of-two shift.
type Multiplier struct {
	Multiplier int32
	Shift      int32
}

// QuantizeMultiplier turns a real in [0, 1) into a Multiplier (TFLite's QuantizeMultiplier).
func QuantizeMultiplier(real float64) (m Multiplier, err error) {
	err = call(func() {
		r := raw.Fixed_quantize_multiplier(real)
		defer raw.DeleteMultiplier(r)
		m = Multiplier{Multiplier: int32(r.GetMultiplier()), Shift: int32(r.GetShift())}
	})
	return
}

// MultiplyByQuantizedMultiplier is TFLite's MultiplyByQuantizedMultiplier (gemmlowp rounding).
func MultiplyByQuantizedMultiplier(x int32, m Multiplier) int32 {
	return int32(raw.Fixed_multiply_by_quantized_multiplier(int(x), int(m.Multiplier), int(m.Shift)))
}

// SaturatingRoundingDoublingHighMul is gemmlowp's rounding doubling high multiply.
func SaturatingRoundingDoublingHighMul(a, b int32) int32 {
	return int32(raw.Fixed_sat_rounding_doubling_high_mul(int(a), int(b)))
}

// RoundingDivideByPOT is x / 2^exponent rounded to nearest, ties away from zero.
func RoundingDivideByPOT(x int32, exponent int) int32 {
	return int32(raw.Fixed_rounding_divide_by_pot(int(x), exponent))
}
