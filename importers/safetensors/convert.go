package safetensors

import "math"

// F16ToF32 widens an IEEE 754 binary16 bit pattern to float32. The
// conversion is exact: signed zeros, subnormals, infinities and NaN
// payloads (shifted into the high mantissa bits) are all preserved.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: mant * 2^-24. Shift the leading one into the
		// implicit-bit position, adjusting the exponent as we go.
		e := uint32(127 - 14)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// F32ToF16 rounds f to the nearest IEEE 754 binary16 value, ties to even.
// Values too large for binary16 become infinities, tiny values become
// subnormals or signed zero, and NaN stays NaN (quiet, sign kept).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 { // NaN: keep the top payload bits, force quiet
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased binary16 exponent
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e <= 0:
		// Result is subnormal (or zero). Below half the smallest
		// subnormal (2^-25) everything rounds to zero.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000 // explicit leading one; f32 subnormals land here too small
		shift := uint32(14 - e)
		return sign | uint16(roundShift(m, shift))
	default:
		// Normal: a carry out of the mantissa correctly bumps the
		// exponent, up to and including infinity (0x7c00).
		return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
	}
}

// roundShift returns v >> shift rounded to nearest, ties to even.
func roundShift(v, shift uint32) uint32 {
	q := v >> shift
	rem := v & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// BF16ToF32 widens a bfloat16 bit pattern to float32 (exact: bfloat16 is
// the top half of a float32).
func BF16ToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// F32ToBF16 rounds f to the nearest bfloat16 value, ties to even. Overflow
// rounds to infinity; NaN stays NaN (quiet, sign kept) even when its payload
// lies only in the discarded low bits.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	return uint16(roundShift(b, 16))
}
