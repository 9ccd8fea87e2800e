package half

import (
	"math"
	"testing"
)

func TestF16(t *testing.T) {
	tests := []struct {
		bits uint16
		f    float32
	}{
		{0x3c00, 1},
		{0xc100, -2.5},
		{0x7bff, 65504},
		{0x0001, float32(math.Ldexp(1, -24))}, // smallest subnormal
		{0x03ff, float32(math.Ldexp(1023, -24))},
		{0x0400, float32(math.Ldexp(1, -14))}, // smallest normal
		{0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
		{0x8000, float32(math.Copysign(0, -1))},
		{0x3555, 0.33325195},
	}
	for _, tt := range tests {
		if got := F16ToF32(tt.bits); math.Float32bits(got) != math.Float32bits(tt.f) {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", tt.bits, got, tt.f)
		}
		if got := F32ToF16(tt.f); got != tt.bits {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
	}
	rounding := []struct {
		f    float32
		bits uint16
	}{
		{1 + 1.0/2048, 0x3c00},             // tie between 1 and next: even (1)
		{1 + 3.0/2048, 0x3c02},             // tie: rounds up to even
		{65520, 0x7c00},                    // rounds past max: inf
		{float32(math.Ldexp(1, -25)), 0},   // tie to even: zero
		{float32(math.Ldexp(3, -26)), 0x1}, // above half of smallest subnormal
		{1e-10, 0},
	}
	for _, tt := range rounding {
		if got := F32ToF16(tt.f); got != tt.bits {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
	}
	if !math.IsNaN(float64(F16ToF32(F32ToF16(float32(math.NaN()))))) {
		t.Error("NaN lost in f16 round trip")
	}
	// Every f16 value survives f16→f32→f16.
	for b := 0; b < 1<<16; b++ {
		f := F16ToF32(uint16(b))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToF16(f); got != uint16(b) {
			t.Fatalf("round trip %#04x → %v → %#04x", b, f, got)
		}
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		f    float32
		bits uint16
	}{
		{1, 0x3f80},
		{-2.5, 0xc020},
		{float32(math.Inf(1)), 0x7f80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie: to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie: to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81}, // above tie
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // max f32 rounds to inf
	}
	for _, tt := range tests {
		if got := F32ToBF16(tt.f); got != tt.bits {
			t.Errorf("F32ToBF16(%v) = %#04x, want %#04x", tt.f, got, tt.bits)
		}
	}
	if !math.IsNaN(float64(BF16ToF32(F32ToBF16(math.Float32frombits(0x7f800001))))) {
		t.Error("signalling NaN with low payload became inf")
	}
	for b := 0; b < 1<<16; b++ {
		f := BF16ToF32(uint16(b))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToBF16(f); got != uint16(b) {
			t.Fatalf("round trip %#04x → %v → %#04x", b, f, got)
		}
	}
}
