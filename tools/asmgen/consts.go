package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// The constant table: every constant is stored as 16 copies (one zmm;
// the AVX2 code reads the first 32 bytes), so kernels use it as a vector
// memory operand.
var constOff = map[string]int{}

// constVals lists the constants in table order: float32 values, or
// uint32 bit patterns for the "i"/"m" ones.
var constVals = []struct {
	name string
	f    float32
	u    uint32
	bits bool
}{
	{name: "expLo", f: -104}, // below: e^x rounds to 0
	{name: "expHi", f: 88.8}, // above: e^x overflows
	{name: "log2e", f: 1.44269504088896341},
	{name: "ln2hi", f: 0.693359375},             // 9 significant bits: k·ln2hi is exact
	{name: "ln2lo", f: -2.12194440054690583e-4}, // ln2 - ln2hi
	{name: "c7", f: 1.0 / 5040},
	{name: "c6", f: 1.0 / 720},
	{name: "c5", f: 1.0 / 120},
	{name: "c4", f: 1.0 / 24},
	{name: "c3", f: 1.0 / 6},
	{name: "c2", f: 0.5},
	{name: "one", f: 1},
	{name: "two", f: 2},
	{name: "s15", f: 2.0 / 15},
	{name: "s13", f: 2.0 / 13},
	{name: "s11", f: 2.0 / 11},
	{name: "s9", f: 2.0 / 9},
	{name: "s7", f: 2.0 / 7},
	{name: "s5", f: 2.0 / 5},
	{name: "s3", f: 2.0 / 3},
	{name: "i127", u: 127, bits: true},
	{name: "i1", u: 1, bits: true},
	{name: "bf16Half", u: 0x7fff, bits: true},
	{name: "hi16", u: 0xffff0000, bits: true},
	{name: "qnan", u: 0x00400000, bits: true},
	{name: "sign", u: 0x80000000, bits: true},
	{name: "abs", u: 0x7fffffff, bits: true},
	{name: "idx4"}, // int32 lanes 0, 4, 8, 12, 0, 4, ... (filled in consts)
}

// consts emits the table.
func consts() {
	tbl := GLOBL("vconst", RODATA|NOPTR)
	for i, c := range constVals {
		constOff[c.name] = 64 * i
		for j := 0; j < 16; j++ {
			// Bit patterns: the assembler reads a float constant without a
			// decimal point ($(-104)) as an integer.
			u := c.u
			switch {
			case c.name == "idx4":
				u = uint32(4 * (j % 4))
			case !c.bits:
				u = math.Float32bits(c.f)
			}
			DATA(64*i+4*j, U32(u))
		}
	}
	table = tbl
}

var table Mem

// c returns the memory operand of constant name.
func c(name string) Mem {
	off, ok := constOff[name]
	if !ok {
		panic("no constant " + name)
	}
	return table.Offset(off)
}
