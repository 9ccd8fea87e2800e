package cuda

import (
	"fmt"
	"strings"

	"github.com/ssmc-dev/ssmc/ir"
)

// A pointwise kernel computes one output element per thread: it walks an
// index space (the dims of a view), reads each operand at its strided
// position and writes the output at its own. Elementwise ops, casts and
// every data-movement op (Transpose, Slice, Split, Concat, Expand) are
// pointwise kernels that differ in strides and in the expression.

// pointwiseThreads is the block size of pointwise kernels.
const pointwiseThreads = 256

// view places an index space in a tensor: element offset of index
// (i0, ..., ir-1) = offset + sum_k ik·strides[k].
type view struct {
	offset  poly
	strides []poly
}

// denseStrides are the row-major strides of shape.
func denseStrides(shape ir.Shape) []poly {
	st := make([]poly, len(shape))
	acc := constPoly(1)
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc = acc.mul(polyOf(shape[i]))
	}
	return st
}

// dense is the row-major view of shape.
func dense(shape ir.Shape) view { return view{offset: constPoly(0), strides: denseStrides(shape)} }

// broadcastView reads an operand of shape from the index space out (NumPy
// broadcasting: shapes aligned on the right, dims of size 1 repeated).
func broadcastView(shape, out ir.Shape) view {
	st := denseStrides(shape)
	v := view{offset: constPoly(0), strides: make([]poly, len(out))}
	for i := range out {
		j := i - (len(out) - len(shape))
		if j < 0 || shape[j] == ir.StaticDim(1) && out[i] != ir.StaticDim(1) {
			v.strides[i] = constPoly(0)
		} else {
			v.strides[i] = st[j]
		}
	}
	return v
}

// pointwise is a pointwise kernel before it is written out.
type pointwise struct {
	dims []poly // the index space
	out  view
	ins  []view
	// expr computes the output from the operands a, b, ... (read as
	// f32); empty for a copy, which moves elements unchanged.
	expr string
}

// simplify drops dims of size 1 and merges neighbouring dims that every
// view walks contiguously (stride[k] = stride[k+1]·size[k+1]), so that a
// dense [B, L, 64] + [64] walks [B·L, 64].
func (pw *pointwise) simplify() {
	views := append([]*view{&pw.out}, ptrs(pw.ins)...)
	var dims []poly
	keep := make([][]poly, len(views))
	for k, d := range pw.dims {
		if c, ok := d.constant(); ok && c == 1 {
			continue
		}
		merge := len(dims) > 0
		for vi, v := range views {
			if !merge {
				break
			}
			last := keep[vi][len(keep[vi])-1]
			merge = last.equal(v.strides[k].mul(d))
		}
		if merge {
			dims[len(dims)-1] = dims[len(dims)-1].mul(d)
			for vi, v := range views {
				keep[vi][len(keep[vi])-1] = v.strides[k]
			}
			continue
		}
		dims = append(dims, d)
		for vi, v := range views {
			keep[vi] = append(keep[vi], v.strides[k])
		}
	}
	pw.dims = dims
	for vi, v := range views {
		v.strides = keep[vi]
	}
}

func ptrs(vs []view) []*view {
	out := make([]*view, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

// total is the number of elements of the index space.
func (pw *pointwise) total() poly {
	p := constPoly(1)
	for _, d := range pw.dims {
		p = p.mul(d)
	}
	return p
}

// emit fills k's body and launch from pw. k's parameters are the output
// followed by the operands, in the order of pw.out and pw.ins.
func (pw *pointwise) emit(k *kernel) {
	pw.simplify()
	var b strings.Builder
	total := pw.total()
	fmt.Fprintf(&b, "    const long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n")
	fmt.Fprintf(&b, "    if (index >= %s) {\n        return;\n    }\n", k.size(total))
	// Split the index into the coordinates of the index space, innermost
	// first, unless every view is dense (then the index is the offset).
	coords := make([]string, len(pw.dims))
	needCoords := false
	for _, v := range append([]view{pw.out}, pw.ins...) {
		if !v.isDense(pw.dims) {
			needCoords = true
		}
	}
	if needCoords {
		switch len(pw.dims) {
		case 0:
		case 1:
			coords[0] = "index"
		default:
			rest := "index"
			if len(pw.dims) > 2 {
				rest = "rest"
				b.WriteString("    long long rest = index;\n")
			}
			for i := len(pw.dims) - 1; i > 0; i-- {
				coords[i] = fmt.Sprintf("i%d", i)
				d := k.factor(pw.dims[i])
				fmt.Fprintf(&b, "    const long long i%d = %s %% %s;\n", i, rest, d)
				if i > 1 {
					fmt.Fprintf(&b, "    rest /= %s;\n", d)
				} else {
					fmt.Fprintf(&b, "    const long long i0 = %s / %s;\n", rest, d)
				}
			}
			coords[0] = "i0"
		}
	}
	offset := func(v view) string {
		if v.isDense(pw.dims) {
			return "index"
		}
		var terms []string
		if c, ok := v.offset.constant(); !ok || c != 0 {
			terms = append(terms, k.size(v.offset))
		}
		for i, s := range v.strides {
			switch c, ok := s.constant(); {
			case ok && c == 0:
			case ok && c == 1:
				terms = append(terms, coords[i])
			default:
				terms = append(terms, coords[i]+" * "+k.factor(s))
			}
		}
		if len(terms) == 0 {
			return "0"
		}
		return strings.Join(terms, " + ")
	}
	outName := k.params[0].name
	if pw.expr == "" {
		fmt.Fprintf(&b, "    %s[%s] = %s[%s];\n", outName, offset(pw.out), k.params[1].name, offset(pw.ins[0]))
	} else {
		for i, in := range pw.ins {
			fmt.Fprintf(&b, "    const float %c = to_float(%s[%s]);\n", 'a'+i, k.params[1+i].name, offset(in))
		}
		fmt.Fprintf(&b, "    store(%s + %s, %s);\n", outName, offset(pw.out), pw.expr)
	}
	k.body = b.String()
	k.block = [3]int{pointwiseThreads, 1, 1}
	k.grid[0] = Extent{Count: total.size(), Per: pointwiseThreads}
}

// isDense reports whether v walks dims contiguously from offset 0.
func (v view) isDense(dims []poly) bool {
	if c, ok := v.offset.constant(); !ok || c != 0 {
		return false
	}
	acc := constPoly(1)
	for i := len(dims) - 1; i >= 0; i-- {
		if !v.strides[i].equal(acc) {
			return false
		}
		acc = acc.mul(dims[i])
	}
	return true
}

// dimsOf converts a shape to polys.
func dimsOf(s ir.Shape) []poly {
	out := make([]poly, len(s))
	for i, d := range s {
		out[i] = polyOf(d)
	}
	return out
}
