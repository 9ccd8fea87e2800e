package cpu

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
)

// tt is a static IR tensor type.
func tt(dt ir.DType, shape ...int64) *ir.Type {
	t := ir.TensorType(dt, ir.Static(shape...))
	return &t
}

// ct is a zero-filled CPU tensor with well-formed data.
func ct(dt ir.DType, shape ...int) *Tensor {
	t := &Tensor{DType: dt, Shape: shape}
	n := 1
	for _, d := range shape {
		n *= max(d, 0)
	}
	switch dt {
	case ir.F32:
		t.F32 = make([]float32, n)
	case ir.I64:
		t.I64 = make([]int64, n)
	default:
		t.Raw = make([]byte, 2*n)
	}
	return t
}

// ts lists tensors (nil entries for absent operands).
func ts(t ...*Tensor) []*Tensor { return t }

// TestKernelErrors feeds kernels operands and results that do not fit
// their value and checks that each returns an error naming the op and
// value, without panicking.
func TestKernelErrors(t *testing.T) {
	f32, i64, bf16 := ir.F32, ir.I64, ir.BF16
	idx := ct(i64, 2)
	idx.I64[1] = 10
	negIdx := ct(i64, 1)
	negIdx.I64[0] = -11
	zeroDiv := ct(i64, 3)
	zeroDiv.I64[0], zeroDiv.I64[1] = 1, 2
	short := ct(f32, 2, 3)
	short.F32 = short.F32[:5]
	cases := []struct {
		name    string
		op      ir.Op
		attrs   ir.Attrs
		types   []*ir.Type // operand types of the value (nil: absent)
		in, out []*Tensor
	}{
		{"short data", ir.OpAdd, nil, []*ir.Type{tt(f32, 2, 3), tt(f32, 2, 3)}, ts(short, ct(f32, 2, 3)), ts(ct(f32, 2, 3))},
		{"negative dim", ir.OpNeg, nil, []*ir.Type{tt(f32, 2)}, ts(ct(f32, -1)), ts(ct(f32, 2))},
		{"no broadcast", ir.OpAdd, nil, []*ir.Type{tt(f32, 2, 3), tt(f32, 3)}, ts(ct(f32, 2, 3), ct(f32, 4)), ts(ct(f32, 2, 3))},
		{"result too big", ir.OpMul, nil, []*ir.Type{tt(f32, 3), tt(f32, 3)}, ts(ct(f32, 1), ct(f32, 1)), ts(ct(f32, 3))},
		{"result shape", ir.OpSub, nil, []*ir.Type{tt(f32, 2, 3), tt(f32, 2, 3)}, ts(ct(f32, 2, 3), ct(f32, 2, 3)), ts(ct(f32, 3, 2))},
		{"bf16 operand", ir.OpAdd, nil, []*ir.Type{tt(bf16, 4), tt(bf16, 4)}, ts(ct(bf16, 4), ct(bf16, 4)), ts(ct(f32, 4))},
		{"mixed dtypes", ir.OpAdd, nil, []*ir.Type{tt(f32, 4), tt(f32, 4)}, ts(ct(f32, 4), ct(i64, 4)), ts(ct(f32, 4))},
		{"missing operand", ir.OpAdd, nil, []*ir.Type{tt(f32, 4), tt(f32, 4)}, ts(ct(f32, 4)), ts(ct(f32, 4))},
		{"missing result", ir.OpExp, nil, []*ir.Type{tt(f32, 4)}, ts(ct(f32, 4)), nil},
		{"division by zero", ir.OpDiv, nil, []*ir.Type{tt(i64, 3), tt(i64, 3)}, ts(ct(i64, 3), zeroDiv), ts(ct(i64, 3))},
		{"int exp", ir.OpExp, nil, []*ir.Type{tt(f32, 3)}, ts(ct(i64, 3)), ts(ct(i64, 3))},
		{"int pow", ir.OpPow, nil, []*ir.Type{tt(f32, 3), tt(f32, 3)}, ts(ct(i64, 3), ct(i64, 3)), ts(ct(i64, 3))},
		{"cast result dtype", ir.OpCast, ir.Attrs{"to": ir.Bool}, []*ir.Type{tt(f32, 3)}, ts(ct(f32, 3)), ts(ct(f32, 3))},

		{"contraction", ir.OpMatMul, ir.Attrs{"transpose_b": true}, []*ir.Type{tt(f32, 3, 8), tt(f32, 5, 8)}, ts(ct(f32, 3, 8), ct(f32, 5, 7)), ts(ct(f32, 3, 5))},
		{"matmul result", ir.OpMatMul, nil, []*ir.Type{tt(f32, 3, 8), tt(f32, 8, 5)}, ts(ct(f32, 3, 8), ct(f32, 8, 5)), ts(ct(f32, 3, 4))},
		{"matmul batch", ir.OpMatMul, nil, []*ir.Type{tt(f32, 2, 3, 8), tt(f32, 2, 8, 5)}, ts(ct(f32, 2, 3, 8), ct(f32, 3, 8, 5)), ts(ct(f32, 2, 3, 5))},
		{"matmul int weight", ir.OpMatMul, nil, []*ir.Type{tt(f32, 3, 8), tt(f32, 8, 5)}, ts(ct(f32, 3, 8), ct(i64, 8, 5)), ts(ct(f32, 3, 5))},
		{"lora rank", ir.OpLoRAMatMul, ir.Attrs{"scale": 1.0}, []*ir.Type{tt(f32, 2, 8), tt(f32, 8, 4), tt(f32, 8, 2), tt(f32, 2, 4)},
			ts(ct(f32, 2, 8), ct(f32, 8, 4), ct(f32, 8, 2), ct(f32, 3, 4)), ts(ct(f32, 2, 4))},

		{"index too large", ir.OpGather, nil, []*ir.Type{tt(f32, 10, 4), tt(i64, 2)}, ts(ct(f32, 10, 4), idx), ts(ct(f32, 2, 4))},
		{"index too small", ir.OpGather, nil, []*ir.Type{tt(f32, 10, 4), tt(i64, 1)}, ts(ct(f32, 10, 4), negIdx), ts(ct(f32, 1, 4))},
		{"float indices", ir.OpGather, nil, []*ir.Type{tt(f32, 10, 4), tt(i64, 2)}, ts(ct(f32, 10, 4), ct(f32, 2)), ts(ct(f32, 2, 4))},
		{"reshape count", ir.OpReshape, ir.Attrs{"shape": ir.Static(6)}, []*ir.Type{tt(f32, 2, 3)}, ts(ct(f32, 2, 3)), ts(ct(f32, 5))},
		{"perm rank", ir.OpTranspose, ir.Attrs{"perm": []int64{1, 0}}, []*ir.Type{tt(f32, 2, 3)}, ts(ct(f32, 2, 3, 1)), ts(ct(f32, 3, 2, 1))},
		{"slice result", ir.OpSlice, ir.Attrs{"axes": []int64{0}, "starts": []int64{1}, "ends": []int64{3}},
			[]*ir.Type{tt(f32, 4, 2)}, ts(ct(f32, 4, 2)), ts(ct(f32, 3, 2))},
		{"split sizes", ir.OpSplit, ir.Attrs{"axis": int64(0), "sizes": []int64{1, 2}}, []*ir.Type{tt(f32, 3)}, ts(ct(f32, 4)), ts(ct(f32, 1), ct(f32, 2))},
		{"split results", ir.OpSplit, ir.Attrs{"axis": int64(0), "sizes": []int64{1, 2}}, []*ir.Type{tt(f32, 3)}, ts(ct(f32, 3)), ts(ct(f32, 1))},
		{"concat dims", ir.OpConcat, ir.Attrs{"axis": int64(0)}, []*ir.Type{tt(f32, 1, 2), tt(f32, 1, 2)}, ts(ct(f32, 1, 2), ct(f32, 1, 3)), ts(ct(f32, 2, 2))},
		{"concat dtypes", ir.OpConcat, ir.Attrs{"axis": int64(0)}, []*ir.Type{tt(f32, 1, 2), tt(f32, 1, 2)}, ts(ct(f32, 1, 2), ct(i64, 1, 2)), ts(ct(f32, 2, 2))},
		{"expand", ir.OpExpand, ir.Attrs{"shape": ir.Static(2, 3)}, []*ir.Type{tt(f32, 3)}, ts(ct(f32, 2)), ts(ct(f32, 2, 3))},

		{"reduce result", ir.OpReduceSum, ir.Attrs{"axes": []int64{1}}, []*ir.Type{tt(f32, 2, 3)}, ts(ct(f32, 2, 3)), ts(ct(f32, 2))},
		{"int mean of nothing", ir.OpReduceMean, ir.Attrs{"axes": []int64{1}}, []*ir.Type{tt(i64, 2, 0)}, ts(ct(i64, 2, 0)), ts(ct(i64, 2, 1))},
		{"rmsnorm weight", ir.OpRMSNorm, ir.Attrs{"eps": 1e-5}, []*ir.Type{tt(f32, 2, 4), tt(f32, 4)}, ts(ct(f32, 2, 4), ct(f32, 3)), ts(ct(f32, 2, 4))},
		{"softmax ints", ir.OpSoftmax, nil, []*ir.Type{tt(f32, 2, 4)}, ts(ct(i64, 2, 4)), ts(ct(i64, 2, 4))},

		{"conv length", ir.OpConv1d, nil, []*ir.Type{tt(f32, 1, 2, 5), tt(f32, 2, 3)}, ts(ct(f32, 1, 2, 5), ct(f32, 2, 3)), ts(ct(f32, 1, 2, 5))},
		{"conv huge dilation", ir.OpConv1d, ir.Attrs{"dilation": int64(1) << 21}, []*ir.Type{tt(f32, 1, 2, 5), tt(f32, 2, 1)},
			ts(ct(f32, 1, 2, 5), ct(f32, 2, 1<<20)), ts(ct(f32, 1, 2, 5))},
		{"conv weight", ir.OpConv1d, nil, []*ir.Type{tt(f32, 1, 2, 5), tt(f32, 2, 3)}, ts(ct(f32, 1, 2, 5), ct(f32, 3, 3)), ts(ct(f32, 1, 2, 3))},
		{"causal state", ir.OpCausalConv1d, nil, []*ir.Type{tt(f32, 1, 4, 2), tt(f32, 2, 3), nil, tt(f32, 1, 2, 2)},
			ts(ct(f32, 1, 4, 2), ct(f32, 2, 3), nil, ct(f32, 1, 2, 3)), ts(ct(f32, 1, 4, 2), ct(f32, 1, 2, 2))},
		{"causal state result", ir.OpCausalConv1d, nil, []*ir.Type{tt(f32, 1, 4, 2), tt(f32, 2, 3)},
			ts(ct(f32, 1, 4, 2), ct(f32, 2, 3)), ts(ct(f32, 1, 4, 2), ct(f32, 1, 2, 3))},
		{"causal activation", ir.OpCausalConv1d, ir.Attrs{"activation": "silu"}, []*ir.Type{tt(f32, 1, 4, 2), tt(f32, 2, 3)},
			ts(ct(f32, 1, 4, 2), ct(f32, 2, 3)), ts(ct(f32, 1, 4, 2))},

		{"scan h0", ir.OpSelectiveScan, nil, scanTypes(true),
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 3, 4), ct(f32, 4, 2), ct(f32, 1, 3, 2), ct(f32, 1, 3, 2), nil, nil, nil, ct(f32, 1, 4, 3)),
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 4, 2))},
		{"scan A", ir.OpSelectiveScan, nil, scanTypes(false),
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 3, 4), ct(f32, 4, 3), ct(f32, 1, 3, 2), ct(f32, 1, 3, 2)), ts(ct(f32, 1, 3, 4), ct(f32, 1, 4, 2))},
		{"scan groups", ir.OpSelectiveScan, nil, scanTypes(false),
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 3, 4), ct(f32, 4, 2), ct(f32, 1, 3, 3, 2), ct(f32, 1, 3, 3, 2)), ts(ct(f32, 1, 3, 4), ct(f32, 1, 4, 2))},
		{"scan B C disagree", ir.OpSelectiveScan, nil, scanTypes(false),
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 3, 4), ct(f32, 4, 2), ct(f32, 1, 3, 2), ct(f32, 1, 3, 2, 2)), ts(ct(f32, 1, 3, 4), ct(f32, 1, 4, 2))},
		{"scan heads", ir.OpSelectiveScan, ir.Attrs{"heads": int64(2)},
			[]*ir.Type{tt(f32, 1, 3, 4), tt(f32, 1, 3, 2), tt(f32, 2), tt(f32, 1, 3, 2), tt(f32, 1, 3, 2)},
			ts(ct(f32, 1, 3, 4), ct(f32, 1, 3, 3), ct(f32, 3), ct(f32, 1, 3, 2), ct(f32, 1, 3, 2)), ts(ct(f32, 1, 3, 4), ct(f32, 1, 4, 2))},
		{"update without state", ir.OpSelectiveStateUpdate, nil,
			[]*ir.Type{tt(f32, 1, 4), tt(f32, 1, 4), tt(f32, 4, 2), tt(f32, 1, 2), tt(f32, 1, 2), nil, nil, nil, tt(f32, 1, 4, 2)},
			ts(ct(f32, 1, 4), ct(f32, 1, 4), ct(f32, 4, 2), ct(f32, 1, 2), ct(f32, 1, 2)), ts(ct(f32, 1, 4), ct(f32, 1, 4, 2))},
	}
	for _, op := range ir.Ops() {
		if k, err := KernelFor(op); err == nil {
			if err := k(new(Scratch), nil, nil, nil); err == nil {
				t.Errorf("%v kernel: no error for a nil value", op)
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := ir.NewFunc("t")
			args := make([]*ir.Value, len(c.types))
			for i, typ := range c.types {
				if typ != nil {
					args[i] = f.NewArg(fmt.Sprintf("a%d", i), *typ)
				}
			}
			v, err := f.Append(c.op, c.attrs, args...)
			if err != nil {
				t.Fatalf("building the value: %v", err)
			}
			k, err := KernelFor(c.op)
			if err != nil {
				t.Fatal(err)
			}
			err = func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("kernel panicked: %v", r)
					}
				}()
				return k(new(Scratch), v, c.in, c.out)
			}()
			if err == nil {
				t.Fatalf("no error")
			}
			if !strings.Contains(err.Error(), v.LongString()) {
				t.Errorf("error %q does not name %s", err, v.LongString())
			}
		})
	}
}

// scanTypes are the operand types of a small Mamba-1 scan (Bt 1, L 3,
// Dm 4, N 2), with an h0 when withH0.
func scanTypes(withH0 bool) []*ir.Type {
	f32 := ir.F32
	ty := []*ir.Type{tt(f32, 1, 3, 4), tt(f32, 1, 3, 4), tt(f32, 4, 2), tt(f32, 1, 3, 2), tt(f32, 1, 3, 2)}
	if withH0 {
		ty = append(ty, nil, nil, nil, tt(f32, 1, 4, 2))
	}
	return ty
}
