package cuda

import (
	"strings"
	"testing"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
)

func intp(i int) *int { return &i }

func sizeOf(terms ...cudagen.Term) *cudagen.Size { return &cudagen.Size{Terms: terms} }

// TestMarshalParams checks the argument blocks handed to cuLaunchKernel:
// buffers become their device addresses, sizes their values for the bound
// symbols, and entry i of the block points at value i.
func TestMarshalParams(t *testing.T) {
	addr := []uint64{0x7f0000000000, 0x7f0000001000, 0x7f0000002000}
	env := map[string]int64{"B": 3, "L": 37}
	tests := []struct {
		name string
		args []cudagen.Arg
		want []uint64
		err  string
	}{
		{name: "no arguments"},
		{name: "buffers", args: []cudagen.Arg{{Buffer: intp(2)}, {Buffer: intp(0)}}, want: []uint64{addr[2], addr[0]}},
		{name: "buffers and sizes", args: []cudagen.Arg{
			{Buffer: intp(1)},
			{Size: sizeOf(cudagen.Term{Coef: 1, Symbols: "B"})},
			{Size: sizeOf(cudagen.Term{Coef: 64, Symbols: "B*L"}, cudagen.Term{Coef: 3})},
		}, want: []uint64{addr[1], 3, 64*3*37 + 3}},
		{name: "buffer out of range", args: []cudagen.Arg{{Buffer: intp(3)}}, err: "out of range"},
		{name: "unbound symbol", args: []cudagen.Arg{{Size: sizeOf(cudagen.Term{Coef: 1, Symbols: "T"})}}, err: "unbound"},
		{name: "neither", args: []cudagen.Arg{{}}, err: "neither"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := marshalParams(&cudagen.Launch{Args: tt.args}, addr, env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.values) != len(tt.want) || len(p.ptrs) != len(tt.want) {
				t.Fatalf("%d values and %d pointers, want %d", len(p.values), len(p.ptrs), len(tt.want))
			}
			if len(tt.want) == 0 {
				if p.block() != nil {
					t.Error("the block of a launch without arguments is not nil")
				}
				return
			}
			if p.block() != unsafe.Pointer(&p.ptrs[0]) {
				t.Error("block() is not the address of the pointer array")
			}
			for i, w := range tt.want {
				if got := *(*uint64)(p.ptrs[i]); got != w {
					t.Errorf("argument %d: *ptrs[%d] = %#x, want %#x", i, i, got, w)
				}
			}
		})
	}
}
