package safetensors

import (
	"math"
	"testing"
)

func f32(bits uint32) float32 { return math.Float32frombits(bits) }

func TestF16ToF32(t *testing.T) {
	tests := []struct {
		name string
		in   uint16
		want uint32
	}{
		{"+0", 0x0000, 0x00000000},
		{"-0", 0x8000, 0x80000000},
		{"1.0", 0x3c00, 0x3f800000},
		{"-2.5", 0xc100, 0xc0200000},
		{"65504 max", 0x7bff, 0x477fe000},
		{"1/3 approx", 0x3555, 0x3eaaa000},
		{"smallest subnormal 2^-24", 0x0001, 0x33800000},
		{"negative smallest subnormal", 0x8001, 0xb3800000},
		{"subnormal 2^-23", 0x0002, 0x34000000},
		{"largest subnormal", 0x03ff, 0x387fc000},
		{"smallest normal 2^-14", 0x0400, 0x38800000},
		{"+inf", 0x7c00, 0x7f800000},
		{"-inf", 0xfc00, 0xff800000},
		{"quiet NaN", 0x7e00, 0x7fc00000},
		{"NaN payload", 0x7c01, 0x7f802000},
		{"negative NaN", 0xfe00, 0xffc00000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := math.Float32bits(F16ToF32(tt.in)); got != tt.want {
				t.Errorf("F16ToF32(%#04x) = %#08x, want %#08x", tt.in, got, tt.want)
			}
		})
	}
}

func TestF32ToF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32
		want uint16
	}{
		{"+0", 0x00000000, 0x0000},
		{"-0", 0x80000000, 0x8000},
		{"1.0", 0x3f800000, 0x3c00},
		{"-2.5", 0xc0200000, 0xc100},
		{"65504", 0x477fe000, 0x7bff},
		{"just below 65520 rounds down", 0x477fefff, 0x7bff},
		{"65520 tie rounds to even = inf", 0x477ff000, 0x7c00},
		{"1e6 overflows", 0x49742400, 0x7c00},
		{"-1e6 overflows", 0xc9742400, 0xfc00},
		{"f32 max overflows", 0x7f7fffff, 0x7c00},
		{"+inf", 0x7f800000, 0x7c00},
		{"-inf", 0xff800000, 0xfc00},
		{"quiet NaN", 0x7fc00000, 0x7e00},
		{"NaN payload only in low bits stays NaN", 0x7f800001, 0x7e00},
		{"negative NaN", 0xffc00000, 0xfe00},
		{"2^-24 smallest subnormal", 0x33800000, 0x0001},
		{"2^-25 tie rounds to even zero", 0x33000000, 0x0000},
		{"just above 2^-25 rounds up", 0x33000001, 0x0001},
		{"-2^-25 tie rounds to -0", 0xb3000000, 0x8000},
		{"3*2^-25 tie rounds to even 2", 0x33c00000, 0x0002},
		{"2^-26 rounds to zero", 0x32800000, 0x0000},
		{"f32 subnormal rounds to zero", 0x00000001, 0x0000},
		{"largest subnormal", 0x387fc000, 0x03ff},
		{"midpoint largest subnormal/smallest normal rounds up", 0x387fe000, 0x0400},
		{"2^-14 smallest normal", 0x38800000, 0x0400},
		{"1+2^-11 tie rounds to even 1", 0x3f801000, 0x3c00},
		{"1+3*2^-11 tie rounds to even up", 0x3f803000, 0x3c02},
		{"1+2^-11+ulp rounds up", 0x3f801001, 0x3c01},
		{"2047.5 tie rounds up into next binade", 0x44fff000, 0x6800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := F32ToF16(f32(tt.in)); got != tt.want {
				t.Errorf("F32ToF16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
			}
		})
	}
}

func TestBF16(t *testing.T) {
	widen := []struct {
		in   uint16
		want uint32
	}{
		{0x3f80, 0x3f800000}, {0xc020, 0xc0200000}, {0x0001, 0x00010000},
		{0x7f80, 0x7f800000}, {0xff80, 0xff800000}, {0x7fc1, 0x7fc10000}, {0x8000, 0x80000000},
	}
	for _, tt := range widen {
		if got := math.Float32bits(BF16ToF32(tt.in)); got != tt.want {
			t.Errorf("BF16ToF32(%#04x) = %#08x, want %#08x", tt.in, got, tt.want)
		}
	}
	narrow := []struct {
		name string
		in   uint32
		want uint16
	}{
		{"1.0", 0x3f800000, 0x3f80},
		{"-2.5", 0xc0200000, 0xc020},
		{"65504", 0x477fe000, 0x4780},
		{"tie rounds to even down", 0x3f808000, 0x3f80},
		{"tie rounds to even up", 0x3f818000, 0x3f82},
		{"above tie rounds up", 0x3f808001, 0x3f81},
		{"below tie rounds down", 0x3f807fff, 0x3f80},
		{"f32 max overflows to inf", 0x7f7fffff, 0x7f80},
		{"largest below overflow", 0x7f7f7fff, 0x7f7f},
		{"-f32 max overflows to -inf", 0xff7fffff, 0xff80},
		{"+inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"NaN payload only in low bits stays NaN", 0x7f800001, 0x7fc0},
		{"negative NaN", 0xffc00000, 0xffc0},
		{"subnormal tie to even zero", 0x00008000, 0x0000},
		{"subnormal tie to even up", 0x00018000, 0x0002},
		{"smallest subnormal rounds to zero", 0x00000001, 0x0000},
		{"-0", 0x80000000, 0x8000},
	}
	for _, tt := range narrow {
		t.Run(tt.name, func(t *testing.T) {
			if got := F32ToBF16(f32(tt.in)); got != tt.want {
				t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
			}
		})
	}
}

// TestHalfExhaustive checks every 16-bit pattern: widening then narrowing
// is the identity (NaN stays NaN), and values around each midpoint between
// neighbours round to the nearer one, ties to even.
func TestHalfExhaustive(t *testing.T) {
	type format struct {
		name   string
		widen  func(uint16) float32
		narrow func(float32) uint16
		maxFin uint16 // largest positive finite pattern
	}
	for _, fm := range []format{
		{"f16", F16ToF32, F32ToF16, 0x7bff},
		{"bf16", BF16ToF32, F32ToBF16, 0x7f7f},
	} {
		t.Run(fm.name, func(t *testing.T) {
			for i := 0; i < 1<<16; i++ {
				h := uint16(i)
				f := fm.widen(h)
				back := fm.narrow(f)
				if f != f {
					if b := fm.widen(back); b == b || back&0x8000 != h&0x8000 {
						t.Fatalf("%#04x: NaN came back as %#04x", h, back)
					}
					continue
				}
				if back != h {
					t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
				}
				if h&0x7fff >= fm.maxFin {
					continue
				}
				// h and h+1 are neighbours in magnitude.
				lo, hi := float64(f), float64(fm.widen(h+1))
				mid := float32((lo + hi) / 2) // exact: one extra bit
				even := h
				if h&1 == 1 {
					even = h + 1
				}
				if got := fm.narrow(mid); got != even {
					t.Fatalf("midpoint of %#04x,%#04x rounds to %#04x, want %#04x", h, h+1, got, even)
				}
				toward := func(x float32, dir float64) float32 {
					return float32(math.Nextafter32(x, float32(dir)))
				}
				if got := fm.narrow(toward(mid, lo)); got != h {
					t.Fatalf("below midpoint of %#04x,%#04x rounds to %#04x", h, h+1, got)
				}
				if got := fm.narrow(toward(mid, hi)); got != h+1 {
					t.Fatalf("above midpoint of %#04x,%#04x rounds to %#04x", h, h+1, got)
				}
			}
		})
	}
}
