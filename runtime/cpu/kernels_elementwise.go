package cpu

import (
	"math"

	"github.com/ssmc-dev/ssmc/internal/half"
	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	for _, op := range []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpPow} {
		register(op, binaryKernel)
	}
	for _, op := range []ir.Op{ir.OpNeg, ir.OpExp, ir.OpLog, ir.OpSqrt, ir.OpRsqrt, ir.OpSigmoid,
		ir.OpSiLU, ir.OpSoftplus, ir.OpTanh, ir.OpRelu} {
		register(op, unaryKernel)
	}
	register(ir.OpCast, castKernel)
}

// number is the element type of the tensors arithmetic kernels work on.
type number interface{ ~float32 | ~int64 }

// broadcastStrides sets operand op's strides in w for reading a tensor of
// shape in broadcast to shape out (NumPy rules: shapes aligned on the
// right, size-1 dims repeat, so their stride is 0). It reports false when
// in does not broadcast to out.
func broadcastStrides(w *walk, op int, in, out []int) bool {
	if len(in) > len(out) {
		return false
	}
	acc := 1
	for j := len(in) - 1; j >= 0; j-- {
		d := j + len(out) - len(in)
		switch {
		case in[j] == out[d]:
			w.setStride(op, d, acc)
		case in[j] == 1:
			w.setStride(op, d, 0)
		default:
			return false
		}
		acc *= in[j]
	}
	return true
}

// isBroadcast reports whether out is exactly broadcast(a, b), given that
// both broadcast to it.
func isBroadcast(a, b, out []int) bool {
	for d, o := range out {
		da, db := 1, 1
		if j := d - len(out) + len(a); j >= 0 {
			da = a[j]
		}
		if j := d - len(out) + len(b); j >= 0 {
			db = b[j]
		}
		if o != 1 && da != o && db != o {
			return false
		}
	}
	return true
}

// binaryKernel computes Add, Sub, Mul, Div and Pow with NumPy
// broadcasting:
//
//	for i in y (row-major): y[i] = a[bcast_a(i)] op b[bcast_b(i)]
//
// On f32 operands Add, Sub, Mul and Div compute in float32 and Pow as
// float32(math.Pow) in float64. On i64 operands Add, Sub, Mul and Div are
// exact in int64 (Div truncates toward zero; a zero divisor is an error),
// wrapped to the width of the value's integer dtype. y may share memory
// with an operand that has y's shape. Big f32 operands of y's shape are
// split among the workers.
func binaryKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
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
	if a.DType != b.DType || a.DType != y.DType || (a.DType != ir.F32 && a.DType != ir.I64) {
		return kernelError(v, "operands %v and %v, result %v: want all f32 or all i64", a, b, y)
	}
	var w walk
	w.init(s.Ints(walkInts(len(y.Shape))), y.Shape, 2)
	if !broadcastStrides(&w, 0, a.Shape, y.Shape) || !broadcastStrides(&w, 1, b.Shape, y.Shape) ||
		!isBroadcast(a.Shape, b.Shape, y.Shape) {
		return kernelError(v, "operands %v and %v do not broadcast to the result %v", a, b, y)
	}
	w.prepare()
	if a.DType == ir.F32 {
		if v.Op == ir.OpPow {
			powRuns(y.F32, a.F32, b.F32, &w)
			return nil
		}
		switch {
		case v.Op != ir.OpAdd && v.Op != ir.OpSub && v.Op != ir.OpMul && v.Op != ir.OpDiv:
			return kernelError(v, "no f32 kernel for %v", v.Op)
		case len(y.F32) >= 1<<15 && sameShape(a.Shape, y.Shape) && sameShape(b.Shape, y.Shape):
			// Big and without broadcasting: split among the workers.
			t := elemTasks.get()
			*t = elemTask{op: v.Op, y: y.F32, a: a.F32, b: b.F32}
			t.chunks = chunksFor(len(y.F32), 256, 1, 16384, 4)
			parallel(t, t.chunks)
			*t = elemTask{}
			elemTasks.put(t)
		default:
			arithRuns(v.Op, y.F32, a.F32, b.F32, &w)
		}
		return nil
	}
	if v.Op == ir.OpDiv {
		if at := intDivRuns(y.I64, a.I64, b.I64, &w); at >= 0 {
			return kernelError(v, "integer division by zero at element %d", at)
		}
	} else if !arithRuns(v.Op, y.I64, a.I64, b.I64, &w) {
		return kernelError(v, "no i64 kernel for %v", v.Op)
	}
	wrapInt(valueDType(v, 0), y.I64)
	return nil
}

// arithRuns computes Add, Sub, Mul or (for floats) Div over the runs of w;
// it reports false for any other op.
func arithRuns[T number](op ir.Op, y, a, b []T, w *walk) bool {
	switch op {
	case ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv:
	default:
		return false
	}
	n, sa, sb := w.n, w.inner[0], w.inner[1]
	for r := 0; r < w.rows; r++ {
		yr := y[r*n : r*n+n]
		ia, ib := w.off[0], w.off[1]
		if sa == 1 && sb == 1 {
			arithVV(op, yr, a[ia:ia+n], b[ib:ib+n])
		} else {
			switch op {
			case ir.OpAdd:
				for i := range yr {
					yr[i] = a[ia] + b[ib]
					ia, ib = ia+sa, ib+sb
				}
			case ir.OpSub:
				for i := range yr {
					yr[i] = a[ia] - b[ib]
					ia, ib = ia+sa, ib+sb
				}
			case ir.OpMul:
				for i := range yr {
					yr[i] = a[ia] * b[ib]
					ia, ib = ia+sa, ib+sb
				}
			case ir.OpDiv:
				for i := range yr {
					yr[i] = a[ia] / b[ib]
					ia, ib = ia+sa, ib+sb
				}
			}
		}
		w.next()
	}
	return true
}

// arithVV is arithRuns on one run of contiguous operands.
func arithVV[T number](op ir.Op, y, a, b []T) {
	a, b = a[:len(y)], b[:len(y)]
	switch op {
	case ir.OpAdd:
		for i := range y {
			y[i] = a[i] + b[i]
		}
	case ir.OpSub:
		for i := range y {
			y[i] = a[i] - b[i]
		}
	case ir.OpMul:
		for i := range y {
			y[i] = a[i] * b[i]
		}
	case ir.OpDiv:
		for i := range y {
			y[i] = a[i] / b[i]
		}
	}
}

// intDivRuns is integer Div over the runs of w. It returns the flat index
// of the first zero divisor, or -1.
func intDivRuns(y, a, b []int64, w *walk) int {
	n, sa, sb := w.n, w.inner[0], w.inner[1]
	for r := 0; r < w.rows; r++ {
		ia, ib := w.off[0], w.off[1]
		for i := r * n; i < r*n+n; i++ {
			d := b[ib]
			if d == 0 {
				return i
			}
			if d == -1 {
				y[i] = -a[ia] // MinInt64 / -1 wraps to MinInt64, as in the reference
			} else {
				y[i] = a[ia] / d
			}
			ia, ib = ia+sa, ib+sb
		}
		w.next()
	}
	return -1
}

// powRuns is f32 Pow over the runs of w.
func powRuns(y, a, b []float32, w *walk) {
	n, sa, sb := w.n, w.inner[0], w.inner[1]
	for r := 0; r < w.rows; r++ {
		ia, ib := w.off[0], w.off[1]
		for i := r * n; i < r*n+n; i++ {
			y[i] = float32(math.Pow(float64(a[ia]), float64(b[ib])))
			ia, ib = ia+sa, ib+sb
		}
		w.next()
	}
}

// sigmoid64 is 1 / (1 + exp(-x)).
func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softplus64 is log(1 + exp(x)), returning x itself above 20 where the two
// agree to double precision.
func softplus64(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// unaryKernel computes the unary elementwise ops:
//
//	for i: y[i] = f(x[i])
//
// f32: Neg and Relu (max(x, 0)) exactly; Exp, Log, Sqrt, Rsqrt (1/sqrt),
// Sigmoid (1/(1+exp(-x))), SiLU (x·sigmoid(x)), Softplus (log1p(exp(x)),
// x above 20) and Tanh evaluated in float64 and rounded once to float32.
// i64: Neg and Relu, wrapped to the value's integer width. y may share
// memory with x. Big f32 tensors are split among the workers.
func unaryKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	if x.DType != y.DType || !sameShape(x.Shape, y.Shape) || (x.DType != ir.F32 && x.DType != ir.I64) {
		return kernelError(v, "operand %v, result %v: want the same f32 or i64 type", x, y)
	}
	if x.DType == ir.I64 {
		xs, ys := x.I64, y.I64[:len(x.I64)]
		switch v.Op {
		case ir.OpNeg:
			for i, a := range xs {
				ys[i] = -a
			}
		case ir.OpRelu:
			for i, a := range xs {
				ys[i] = max(a, 0)
			}
		default:
			return kernelError(v, "%v has no integer form", v.Op)
		}
		wrapInt(valueDType(v, 0), ys)
		return nil
	}
	switch v.Op {
	case ir.OpNeg, ir.OpRelu, ir.OpExp, ir.OpLog, ir.OpSqrt, ir.OpRsqrt, ir.OpSigmoid, ir.OpSiLU, ir.OpSoftplus, ir.OpTanh:
	default:
		return kernelError(v, "no f32 kernel for %v", v.Op)
	}
	t := elemTasks.get()
	*t = elemTask{op: v.Op, unary: true, y: y.F32[:len(x.F32)], a: x.F32}
	t.chunks = chunksFor(len(x.F32), 256, 8, 16384, 4)
	parallel(t, t.chunks)
	*t = elemTask{}
	elemTasks.put(t)
	return nil
}

var elemTasks freeList[elemTask]

// elemTask computes elements chunkRange(chunk) of a unary op, or of a
// binary op whose operands have the result's shape.
type elemTask struct {
	op      ir.Op
	unary   bool
	y, a, b []float32
	chunks  int
}

func (t *elemTask) run(_, chunk int) {
	i0, i1 := chunkRange(chunk, t.chunks, len(t.y), 256)
	if t.unary {
		unaryF32(t.op, t.y[i0:i1], t.a[i0:i1])
	} else {
		arithVV(t.op, t.y[i0:i1], t.a[i0:i1], t.b[i0:i1])
	}
}

// unaryF32 is unaryKernel's f32 loop (op is one of its ops).
func unaryF32(op ir.Op, ys, xs []float32) {
	ys = ys[:len(xs)]
	var f func(float64) float64
	switch op {
	case ir.OpNeg:
		for i, a := range xs {
			ys[i] = -a
		}
		return
	case ir.OpRelu:
		for i, a := range xs {
			ys[i] = max(a, 0)
		}
		return
	case ir.OpExp:
		f = math.Exp
	case ir.OpLog:
		f = math.Log
	case ir.OpSqrt:
		f = math.Sqrt
	case ir.OpRsqrt:
		f = func(a float64) float64 { return 1 / math.Sqrt(a) }
	case ir.OpSigmoid:
		f = sigmoid64
	case ir.OpSiLU:
		f = func(a float64) float64 { return a * sigmoid64(a) }
	case ir.OpSoftplus:
		f = softplus64
	case ir.OpTanh:
		f = math.Tanh
	}
	for i, a := range xs {
		ys[i] = float32(f(float64(a)))
	}
}

// castKernel converts every element to the dtype of attribute "to":
//
//	f32 -> f32, f64:   y = x
//	f32 -> bf16, f16:  y = x rounded to nearest even in that format, and
//	                   kept as f32 (the CPU backend computes in f32)
//	f32 -> int:        truncate toward zero, saturating at the type's
//	                   range; NaN -> 0
//	i64 -> float:      y = float32(x), rounded once more to bf16/f16 when
//	                   "to" is one of them (a second rounding only above 2^24)
//	i64 -> int:        wrapped to the width of "to"
//	any -> bool:       y = (x != 0), NaN -> 1
//
// Integer and bool results are held as i64, float results as f32. y may
// share memory with x when both are f32 or both i64.
func castKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := result(v, out, 0)
	if err != nil {
		return err
	}
	to := v.Attrs.DType("to")
	want := ir.I64
	if to.IsFloat() {
		want = ir.F32
	} else if !to.IsInt() && to != ir.Bool {
		return kernelError(v, "cannot cast to %v", to)
	}
	if y.DType != want || !sameShape(x.Shape, y.Shape) || (x.DType != ir.F32 && x.DType != ir.I64) {
		return kernelError(v, "operand %v, result %v: cannot cast to %v", x, y, to)
	}
	switch {
	case x.DType == ir.F32 && want == ir.F32:
		castF32(to, y.F32, x.F32)
	case x.DType == ir.F32:
		ys := y.I64[:len(x.F32)]
		lo, hi := intRange(to)
		for i, a := range x.F32 {
			switch {
			case to == ir.Bool:
				ys[i] = 0
				if a != 0 { // true for NaN too
					ys[i] = 1
				}
			case a != a:
				ys[i] = 0
			case float64(a) <= float64(lo):
				ys[i] = lo
			case float64(a) >= float64(hi):
				ys[i] = hi
			default:
				ys[i] = int64(a)
			}
		}
	case want == ir.F32:
		ys := y.F32[:len(x.I64)]
		for i, a := range x.I64 {
			ys[i] = float32(a)
		}
		castF32(to, ys, ys)
	default:
		ys := y.I64[:len(x.I64)]
		if to == ir.Bool {
			for i, a := range x.I64 {
				ys[i] = 0
				if a != 0 {
					ys[i] = 1
				}
			}
		} else {
			copy(ys, x.I64)
			wrapInt(to, ys)
		}
	}
	return nil
}

// castF32 rounds x to float dtype to, storing the result as f32.
func castF32(to ir.DType, y, x []float32) {
	y = y[:len(x)]
	switch to {
	case ir.BF16:
		simd.roundBF16(y, x)
	case ir.F16:
		for i, a := range x {
			y[i] = half.F16ToF32(half.F32ToF16(a))
		}
	default:
		copy(y, x)
	}
}

// intRange returns the smallest and largest value of integer dtype dt.
func intRange(dt ir.DType) (lo, hi int64) {
	switch dt {
	case ir.I8:
		return math.MinInt8, math.MaxInt8
	case ir.I32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// exp2Frac[j] holds the bits of 2^(j/32) rounded to float32.
var exp2Frac = func() (t [32]uint32) {
	for j := range t {
		t[j] = math.Float32bits(float32(math.Exp2(float64(j) / 32)))
	}
	return t
}()

// exp32's fast path covers [expMin, expMax]: there the result is a normal
// f32 and 2^(k>>5) has an exponent in range.
const (
	expMin = -87.33654 // just above ln(2^-126)
	expMax = 88.71     // k = round(x·32/ln2) ≤ 4095
)

// The constants of exp32.
const (
	expScale = 32 * 1.44269504088896341     // 32/ln2
	expHi    = 0.693359375 / 32             // 9 significant bits: k·expHi is exact
	expLo    = -2.12194440054690583e-4 / 32 // ln2/32 - expHi
	expMagic = 12582912                     // 1.5·2^23: adding it rounds to an integer
)

// exp32 returns e^x in float32 arithmetic, within about 2 ulp of the
// correctly rounded result. With k = round(x·32/ln2) (rounded by adding
// 1.5·2^23, whose float32 spacing is 1):
//
//	x = k·ln2/32 + r,  |r| ≤ ln2/64   (ln2/32 split in two so k·hi is exact)
//	e^x = 2^(k>>5) · 2^((k&31)/32) · e^r
//
// with 2^(j/32) from a table, scaled by adding k>>5 to its exponent bits,
// and e^r from its Taylor polynomial of degree 3 (truncation error below
// 1e-9 relative). Outside [expMin, expMax] (subnormal results, overflow,
// NaN) it rounds math.Exp.
func exp32(x float32) float32 {
	if !(x >= expMin && x <= expMax) { // also NaN
		return float32(math.Exp(float64(x)))
	}
	t := float32(x*expScale) + expMagic
	kf := t - expMagic
	k := math.Float32bits(t) - math.Float32bits(expMagic) // k in [-4032, 4095], two's complement
	r := (x - kf*expHi) - kf*expLo
	p := (1 + r) + r*r*(0.5+r*(1.0/6))
	return p * math.Float32frombits(exp2Frac[k&31]+uint32(int32(k)>>5)<<23)
}

// expInPlace replaces each x[i] by exp32(x[i]), with exp32's body inlined
// (Go does not inline it).
func expInPlace(x []float32) {
	for i, a := range x {
		if !(a >= expMin && a <= expMax) {
			x[i] = float32(math.Exp(float64(a)))
			continue
		}
		t := float32(a*expScale) + expMagic
		kf := t - expMagic
		k := math.Float32bits(t) - math.Float32bits(expMagic)
		r := (a - kf*expHi) - kf*expLo
		p := (1 + r) + r*r*(0.5+r*(1.0/6))
		x[i] = p * math.Float32frombits(exp2Frac[k&31]+uint32(int32(k)>>5)<<23)
	}
}

// silu32 is x·sigmoid(x) = x / (1 + e^-x) in float32 with exp32.
func silu32(x float32) float32 { return x / (1 + exp32(-x)) }

// siluInPlace replaces each x[i] by silu32(x[i]).
func siluInPlace(x []float32) {
	for i, a := range x {
		x[i] = silu32(a)
	}
}

// softplus32 is log(1 + e^x) in float32 arithmetic, within a few ulp:
//
//	softplus(x) = max(x, 0) + log1p(u),  u = e^-|x| in (0, 1]   (exp32)
//	log1p(u) = 2·atanh(s) = 2·(s + s³/3 + s⁵/5 + ...),  s = u/(2+u) in (0, 1/3]
//
// summing the series to s^15 (the rest is below 2e-9 relative).
func softplus32(x float32) float32 {
	if x != x {
		return x
	}
	u := exp32(-abs32(x))
	s := u / (2 + u)
	z := s * s
	p := 2 + z*(2.0/3+z*(2.0/5+z*(2.0/7+z*(2.0/9+z*(2.0/11+z*(2.0/13+z*(2.0/15)))))))
	return max(x, 0) + s*p
}

// abs32 is |x|.
func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }
