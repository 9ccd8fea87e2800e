package passes

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

// mixedPrecision applies the precision policy of Options.DType (bf16 or
// f16), the one the Mamba fine-tuning paper uses:
//
//   - projection and embedding weights (the b operand of MatMul, W/A/B of
//     LoRAMatMul, the table of Gather) are stored in the narrow type;
//   - with bf16, the activations entering a projection are cast to bf16 and
//     its result back to f32:  y = f32(MatMul(bf16(x), W_bf16)); with f16,
//     whose range ends at 65504, activations stay f32 (y = MatMul(x, W_f16)
//     computed in f32), which guards against overflow;
//   - everything else stays f32: A, D, Δ-bias, the scan and its state, the
//     conv, norms and the residual stream, so f16 cannot overflow there.
//
// A weight read by any other op keeps its precision. Weight data is
// converted once per name (round to nearest even) and shared by every
// function. Without bound weights (text-only IR) only the types change.
func mixedPrecision(c *Context, f *ir.Func) error {
	var dt ir.DType
	switch c.Options.DType {
	case "", "f32":
		return nil
	case "bf16":
		dt = ir.BF16
	case "f16":
		dt = ir.F16
	default:
		return fmt.Errorf("unknown dtype %q (want f32, bf16 or f16)", c.Options.DType)
	}
	narrow := narrowableWeights(f)
	for _, v := range append([]*ir.Value(nil), f.Body...) {
		if v.Op != ir.OpParam || !narrow[v] || !v.Type.DType.IsFloat() || v.Type.DType == dt {
			continue
		}
		if err := narrowWeight(c, v, dt); err != nil {
			return err
		}
		c.Count("narrowed", 1)
	}
	if dt == ir.F16 {
		// f16 overflows past 65504: activations stay f32 and only the
		// weights are narrowed (MatMul computes f32 · f16 in f32).
		return nil
	}
	for _, v := range append([]*ir.Value(nil), f.Body...) {
		if (v.Op != ir.OpMatMul && v.Op != ir.OpLoRAMatMul) || v.Args[0].Type.DType != ir.F32 || v.Args[1].Type.DType != dt {
			continue
		}
		x, err := f.InsertBefore(v, ir.OpCast, ir.Attrs{"to": dt}, v.Args[0])
		if err != nil {
			return err
		}
		v.SetArg(0, x)
		v.Type = ir.TensorType(dt, v.Type.Shape)
		back, err := insertAfter(f, v, ir.OpCast, ir.Attrs{"to": ir.F32}, v)
		if err != nil {
			return err
		}
		for _, u := range append([]*ir.Value(nil), v.Users...) {
			if u == back {
				continue
			}
			for i, a := range u.Args {
				if a == v {
					u.SetArg(i, back)
				}
			}
		}
		for i, r := range f.Results {
			if r == v {
				f.Results[i] = back
			}
		}
		c.Count("casts", 2)
	}
	return nil
}

// narrowableWeights returns the Params read only as projection or
// embedding weights.
func narrowableWeights(f *ir.Func) map[*ir.Value]bool {
	ok := map[*ir.Value]bool{}
	for _, v := range f.Body {
		if v.Op != ir.OpParam || len(v.Users) == 0 {
			continue
		}
		all := true
		for _, u := range v.Users {
			for i, a := range u.Args {
				if a != v {
					continue
				}
				switch {
				case u.Op == ir.OpMatMul && i == 1, u.Op == ir.OpLoRAMatMul && i >= 1, u.Op == ir.OpGather && i == 0:
				default:
					all = false
				}
			}
		}
		ok[v] = all
	}
	return ok
}

// narrowWeight converts the weight of Param v to dt (once per name in the
// module) and retypes v. Gather users get a Cast back to f32 after the
// lookup, so the residual stream stays f32.
func narrowWeight(c *Context, v *ir.Value, dt ir.DType) error {
	name := v.Attrs.String("name", "")
	if c.Module != nil && c.Module.Weights != nil {
		w := c.Module.Weights[name]
		if w == nil {
			return fmt.Errorf("weight %q is not bound", name)
		}
		if w.DType != dt {
			c.Module.Weights[name] = convertTensor(w, dt)
		}
	}
	v.Type = ir.TensorType(dt, v.Type.Shape)
	for _, u := range append([]*ir.Value(nil), v.Users...) {
		if u.Op != ir.OpGather {
			continue
		}
		u.Type = ir.TensorType(dt, u.Type.Shape)
		back, err := insertAfter(u.Func(), u, ir.OpCast, ir.Attrs{"to": ir.F32}, u)
		if err != nil {
			return err
		}
		u.Func().ReplaceUses(u, back)
		back.SetArg(0, u) // ReplaceUses also rewired the Cast itself
	}
	return nil
}

// insertAfter adds op(args){attrs} right after pos.
func insertAfter(f *ir.Func, pos *ir.Value, op ir.Op, attrs ir.Attrs, args ...*ir.Value) (*ir.Value, error) {
	for i, v := range f.Body {
		if v == pos {
			if i+1 < len(f.Body) {
				return f.InsertBefore(f.Body[i+1], op, attrs, args...)
			}
			return f.Append(op, attrs, args...)
		}
	}
	return nil, fmt.Errorf("insertAfter: %v is not in @%s", pos, f.Name)
}

// convertTensor rounds a float tensor to dt (nearest even).
func convertTensor(t *ir.Tensor, dt ir.DType) *ir.Tensor {
	n := int(t.NumElements())
	out := &ir.Tensor{DType: dt, Shape: append([]int64(nil), t.Shape...), Data: make([]byte, 2*n)}
	for i := 0; i < n; i++ {
		var x float32
		if t.DType == ir.F32 { // the common case, without At's dispatch
			x = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		} else {
			x = float32(t.At(i))
		}
		var bits uint16
		if dt == ir.BF16 {
			bits = half.F32ToBF16(x)
		} else {
			bits = half.F32ToF16(x)
		}
		out.Data[2*i], out.Data[2*i+1] = byte(bits), byte(bits>>8)
	}
	return out
}
