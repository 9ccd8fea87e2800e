package cpu

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

// Kernels of ops the ONNX importer produces for models other than Mamba
// (ir/ops_onnx.go): Where, Compare, Erf and CumSum. ReduceMax shares
// reduceKernel. Each computes what runtime/ref computes, on the CPU
// backend's runtime dtypes (f32 for floats, i64 for integers and bools).

func init() {
	register(ir.OpWhere, whereKernel)
	register(ir.OpCompare, compareKernel)
	register(ir.OpErf, erfKernel)
	register(ir.OpCumSum, cumSumKernel)
	register(ir.OpReduceMax, reduceKernel)
}

// whereKernel selects with broadcasting:
//
//	for i in y (row-major): y[i] = cond[bc(i)] != 0 ? a[ba(i)] : b[bb(i)]
//
// cond is a bool (i64) tensor; a, b and y are all f32 or all i64.
func whereKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	cond, err := operand(v, in, 0, "cond")
	if err != nil {
		return err
	}
	a, err := operand(v, in, 1, "a")
	if err != nil {
		return err
	}
	b, err := operand(v, in, 2, "b")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if cond.DType != ir.I64 || a.DType != b.DType || a.DType != y.DType {
		return kernelError(v, "cond %v, a %v, b %v, result %v: want a bool condition and one dtype", cond, a, b, y)
	}
	var w walk
	w.init(s.Ints(walkInts(len(y.Shape))), y.Shape, 3)
	if !broadcastStrides(&w, 0, cond.Shape, y.Shape) || !broadcastStrides(&w, 1, a.Shape, y.Shape) ||
		!broadcastStrides(&w, 2, b.Shape, y.Shape) {
		return kernelError(v, "operands %v, %v and %v do not broadcast to the result %v", cond, a, b, y)
	}
	w.prepare()
	if y.DType == ir.I64 {
		selectRuns(y.I64, cond.I64, a.I64, b.I64, &w)
	} else {
		selectRuns(y.F32, cond.I64, a.F32, b.F32, &w)
	}
	return nil
}

// selectRuns is Where along the walk's runs.
func selectRuns[T number](y []T, c []int64, a, b []T, w *walk) {
	n, sc, sa, sb := w.n, w.inner[0], w.inner[1], w.inner[2]
	for r := 0; r < w.rows; r++ {
		ic, ia, ib := w.off[0], w.off[1], w.off[2]
		for i := range y[r*n : r*n+n] {
			if c[ic] != 0 {
				y[r*n+i] = a[ia]
			} else {
				y[r*n+i] = b[ib]
			}
			ic, ia, ib = ic+sc, ia+sa, ib+sb
		}
		w.next()
	}
}

// compareKernel compares with broadcasting into a bool (i64 0/1) result:
//
//	for i in y: y[i] = a[ba(i)] cmp b[bb(i)]     cmp: eq ne lt le gt ge
//
// f32 as IEEE comparisons (NaN compares false except ne), i64 exactly.
func compareKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	a, err := operand(v, in, 0, "a")
	if err != nil {
		return err
	}
	b, err := operand(v, in, 1, "b")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if a.DType != b.DType || y.DType != ir.I64 {
		return kernelError(v, "operands %v and %v, result %v: want one dtype and a bool result", a, b, y)
	}
	var w walk
	w.init(s.Ints(walkInts(len(y.Shape))), y.Shape, 2)
	if !broadcastStrides(&w, 0, a.Shape, y.Shape) || !broadcastStrides(&w, 1, b.Shape, y.Shape) {
		return kernelError(v, "operands %v and %v do not broadcast to the result %v", a, b, y)
	}
	w.prepare()
	cmp := v.Attrs.String("cmp", "")
	var ok bool
	if a.DType == ir.I64 {
		ok = compareRuns(cmp, y.I64, a.I64, b.I64, &w)
	} else {
		ok = compareRuns(cmp, y.I64, a.F32, b.F32, &w)
	}
	if !ok {
		return kernelError(v, "unknown comparison %q", cmp)
	}
	return nil
}

// compareRuns is Compare along the walk's runs; false for an unknown cmp.
func compareRuns[T number](cmp string, y []int64, a, b []T, w *walk) bool {
	var f func(x, z T) bool
	switch cmp {
	case "eq":
		f = func(x, z T) bool { return x == z }
	case "ne":
		f = func(x, z T) bool { return x != z }
	case "lt":
		f = func(x, z T) bool { return x < z }
	case "le":
		f = func(x, z T) bool { return x <= z }
	case "gt":
		f = func(x, z T) bool { return x > z }
	case "ge":
		f = func(x, z T) bool { return x >= z }
	default:
		return false
	}
	n, sa, sb := w.n, w.inner[0], w.inner[1]
	for r := 0; r < w.rows; r++ {
		ia, ib := w.off[0], w.off[1]
		for i := range y[r*n : r*n+n] {
			var c int64 // y may be a or b (in place): read both first
			if f(a[ia], b[ib]) {
				c = 1
			}
			y[r*n+i] = c
			ia, ib = ia+sa, ib+sb
		}
		w.next()
	}
	return true
}

// erfKernel computes y[i] = erf(x[i]), in float64 rounded once.
func erfKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	if len(y.F32) != len(x.F32) {
		return kernelError(v, "%v does not fit the result %v", x, y)
	}
	for i, e := range x.F32 {
		y.F32[i] = float32(math.Erf(float64(e)))
	}
	return nil
}

// cumSumKernel computes running sums along the axis:
//
//	for o, k (the other dims): s = 0
//	    for t in 0..n-1 (n-1..0 when reverse):
//	        exclusive: y[o,t,k] = s; s += x[o,t,k]
//	        otherwise: s += x[o,t,k]; y[o,t,k] = s
//
// s in float64 for f32 (each y rounded once, as runtime/ref) and exact
// int64 for integers (wrapped to the value's width).
func cumSumKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if err := moveTypes(v, x, y); err != nil {
		return err
	}
	r := len(x.Shape)
	ax, ok := normAxis(v.IntAttr("axis"), r)
	if !ok {
		return kernelError(v, "bad axis %d for %v", v.IntAttr("axis"), x)
	}
	excl, rev := v.BoolAttr("exclusive"), v.BoolAttr("reverse")
	outer, n, inner := prod(x.Shape[:ax]), x.Shape[ax], prod(x.Shape[ax+1:])
	for o := 0; o < outer; o++ {
		for k := 0; k < inner; k++ {
			var fs float64
			var is int64
			for step := 0; step < n; step++ {
				t := step
				if rev {
					t = n - 1 - step
				}
				i := (o*n+t)*inner + k
				if x.DType == ir.I64 {
					if excl {
						y.I64[i] = is
					}
					is += x.I64[i]
					if !excl {
						y.I64[i] = is
					}
					continue
				}
				if excl {
					y.F32[i] = float32(fs)
				}
				fs += float64(x.F32[i])
				if !excl {
					y.F32[i] = float32(fs)
				}
			}
		}
	}
	if x.DType == ir.I64 {
		wrapInt(valueDType(v, 0), y.I64)
	}
	return nil
}
