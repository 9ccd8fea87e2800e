package cpu

import (
	"math"

	"github.com/ssmc-dev/ssmc/ir"
)

func init() {
	register(ir.OpReduceSum, reduceKernel)
	register(ir.OpReduceMean, reduceKernel)
	register(ir.OpRMSNorm, rmsNormKernel)
	register(ir.OpSoftmax, softmaxKernel)
}

// sumRun returns sum_i x[o + i·stride] for i < n in float32 with eight
// partial sums.
func sumRun(x []float32, o, stride, n int) float32 {
	if stride == 1 {
		return sum8(x[o : o+n])
	}
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += x[o]
		s1 += x[o+stride]
		s2 += x[o+2*stride]
		s3 += x[o+3*stride]
		o += 4 * stride
	}
	for ; i < n; i++ {
		s0 += x[o]
		o += stride
	}
	return (s0 + s2) + (s1 + s3)
}

// sum8 returns the sum of x in float32 with eight partial sums.
func sum8(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := x[i : i+8 : i+8]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
		s4 += v[4]
		s5 += v[5]
		s6 += v[6]
		s7 += v[7]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))
}

// sumSquares returns sum_i x[i]² in float32 with eight partial sums.
func sumSquares(x []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(x); i += 8 {
		v := x[i : i+8 : i+8]
		s0 += v[0] * v[0]
		s1 += v[1] * v[1]
		s2 += v[2] * v[2]
		s3 += v[3] * v[3]
		s4 += v[4] * v[4]
		s5 += v[5] * v[5]
		s6 += v[6] * v[6]
		s7 += v[7] * v[7]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * x[i]
	}
	return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7))
}

// reduceKernel computes ReduceSum, ReduceMean and ReduceMax over the axes
// (all axes when the attribute is absent), the reduced dims kept as 1 when
// keepdims (ReduceMax: see reduceMax):
//
//	for each output element o (the kept dims, row-major):
//	    s = sum of x over the reduced dims at o
//	    ReduceSum: y[o] = s;  ReduceMean: y[o] = s / count
//
// f32 sums each run along the innermost reduced dim in float32 with
// partial sums and adds the runs in float64; a mean over no elements is
// NaN. i64 sums exactly (wrapped to the value's width), the mean truncates
// toward zero, and a mean over no elements is an error.
func reduceKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
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
	wn := walkInts(r)
	buf := s.Ints(2*wn + 4*r)
	red, kshape, rshape, xst := buf[2*wn:2*wn+r], buf[2*wn+r:2*wn+2*r], buf[2*wn+2*r:2*wn+3*r], buf[2*wn+3*r:]
	axes := v.IntsAttr("axes")
	for d := range red {
		red[d] = 0
		if axes == nil {
			red[d] = 1
		}
	}
	for _, a := range axes {
		d, ok := normAxis(a, r)
		if !ok || red[d] != 0 {
			return kernelError(v, "bad or repeated axis %d for %v", a, x)
		}
		red[d] = 1
	}
	keep := v.BoolAttr("keepdims")
	j, count := 0, 1
	ok := true
	for d := 0; d < r; d++ {
		kshape[d], rshape[d] = x.Shape[d], 1
		if red[d] != 0 {
			kshape[d], rshape[d] = 1, x.Shape[d]
			count *= x.Shape[d]
			if !keep {
				continue
			}
		}
		ok = ok && j < len(y.Shape) && y.Shape[j] == kshape[d]
		j++
	}
	if !ok || j != len(y.Shape) {
		return kernelError(v, "reducing %v does not give %v", x, y)
	}
	mean := v.Op == ir.OpReduceMean
	if x.DType == ir.I64 && mean && count == 0 && len(y.I64) > 0 {
		return kernelError(v, "integer mean over zero elements")
	}
	rowStrides(x.Shape, xst)
	var wk, wr walk
	wk.init(buf[:wn], kshape, 1)
	wr.init(buf[wn:2*wn], rshape, 1)
	for d := 0; d < r; d++ {
		wk.setStride(0, d, xst[d])
		wr.setStride(0, d, xst[d])
	}
	wk.prepare()
	wr.prepare()
	if v.Op == ir.OpReduceMax {
		reduceMax(&wk, &wr, x, y, v)
		return nil
	}
	o := 0
	for kr := 0; kr < wk.rows; kr++ {
		for i := 0; i < wk.n; i++ {
			wr.setBase(0, wk.off[0]+i*wk.inner[0])
			wr.reset()
			if x.DType == ir.I64 {
				var acc int64
				for rr := 0; rr < wr.rows; rr++ {
					for q, p := 0, wr.off[0]; q < wr.n; q, p = q+1, p+wr.inner[0] {
						acc += x.I64[p]
					}
					wr.next()
				}
				if mean {
					acc /= int64(count)
				}
				y.I64[o] = acc
			} else {
				var acc float64
				for rr := 0; rr < wr.rows; rr++ {
					acc += float64(sumRun(x.F32, wr.off[0], wr.inner[0], wr.n))
					wr.next()
				}
				if mean {
					acc /= float64(count)
				}
				y.F32[o] = float32(acc)
			}
			o++
		}
		wk.next()
	}
	if x.DType == ir.I64 {
		wrapInt(valueDType(v, 0), y.I64)
	}
	return nil
}

// reduceMax is reduceKernel's ReduceMax, walking the kept dims (wk) and
// for each the reduced ones (wr):
//
//	y[o] = max of x over the reduced dims at o, starting from -inf (f32)
//	       or the minimum of x's integer dtype; a NaN wins
func reduceMax(wk, wr *walk, x, y *Tensor, v *ir.Value) {
	lo, _ := intRange(v.Args[0].Type.DType)
	o := 0
	for kr := 0; kr < wk.rows; kr++ {
		for i := 0; i < wk.n; i++ {
			wr.setBase(0, wk.off[0]+i*wk.inner[0])
			wr.reset()
			if x.DType == ir.I64 {
				m := lo
				for rr := 0; rr < wr.rows; rr++ {
					for q, p := 0, wr.off[0]; q < wr.n; q, p = q+1, p+wr.inner[0] {
						m = max(m, x.I64[p])
					}
					wr.next()
				}
				y.I64[o] = m
			} else {
				m := float32(math.Inf(-1))
				for rr := 0; rr < wr.rows; rr++ {
					for q, p := 0, wr.off[0]; q < wr.n; q, p = q+1, p+wr.inner[0] {
						if e := x.F32[p]; e > m || e != e {
							m = e
						}
					}
					wr.next()
				}
				y.F32[o] = m
			}
			o++
		}
		wk.next()
	}
}

// rmsNormKernel normalizes each row of the last axis (n elements):
//
//	ms = sum_j x[r, j]² / n          (accumulated in float32)
//	y[r, i] = x[r, i] · (1 / sqrt(ms + eps)) · weight[i]
//
// with the vector primitives, rows split among the workers.
func rmsNormKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	w, err := f32Operand(v, in, 1, "weight")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	if r == 0 || len(w.Shape) != 1 || w.Shape[0] != x.Shape[r-1] || !sameShape(x.Shape, y.Shape) {
		return kernelError(v, "x %v, weight %v, result %v: want weight [last dim of x] and y like x", x, w, y)
	}
	n := x.Shape[r-1]
	if n == 0 {
		return nil
	}
	t := normTasks.get()
	*t = normTask{x: x.F32, y: y.F32, w: w.F32[:n], n: n, eps: v.FloatAttr("eps")}
	rows := len(x.F32) / n
	t.chunks = chunksFor(rows, 1, float64(n), 16384, 8)
	parallel(t, t.chunks)
	*t = normTask{}
	normTasks.put(t)
	return nil
}

var normTasks freeList[normTask]

// normTask normalizes the rows chunkRange(chunk) of an RMSNorm: the sum
// of squares by the vector dot product (float32), the scaling by the
// vector scaleMul, y = (x·inv)·w.
type normTask struct {
	x, y, w   []float32
	n, chunks int
	eps       float64
}

func (t *normTask) run(_, chunk int) {
	r0, r1 := chunkRange(chunk, t.chunks, len(t.x)/t.n, 1)
	n := t.n
	for o := r0 * n; o < r1*n; o += n {
		row, yr := t.x[o:o+n], t.y[o:o+n]
		ms := float64(simd.dot(row, row)) / float64(n)
		simd.scaleMul(yr, row, t.w, float32(1/math.Sqrt(ms+t.eps)))
	}
}

// softmaxKernel normalizes every line of x along axis:
//
//	m = max_j x[j];  e[j] = exp(x[j] - m);  y[j] = e[j] / sum_j e[j]
//
// with exp and the sum in float64.
func softmaxKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	ax, ok := normAxis(v.IntAttr("axis"), len(x.Shape))
	if !ok || !sameShape(x.Shape, y.Shape) {
		return kernelError(v, "axis %d of %v into %v", v.IntAttr("axis"), x, y)
	}
	outer, n, inner := prod(x.Shape[:ax]), x.Shape[ax], prod(x.Shape[ax+1:])
	xv, yv := x.F32, y.F32
	for o := 0; o < outer; o++ {
		for q := 0; q < inner; q++ {
			base := o*n*inner + q
			m := float32(math.Inf(-1))
			for j, p := 0, base; j < n; j, p = j+1, p+inner {
				m = max(m, xv[p])
			}
			sum := 0.0
			for j, p := 0, base; j < n; j, p = j+1, p+inner {
				e := math.Exp(float64(xv[p]) - float64(m))
				yv[p] = float32(e)
				sum += e
			}
			for j, p := 0, base; j < n; j, p = j+1, p+inner {
				yv[p] = float32(float64(yv[p]) / sum)
			}
		}
	}
	return nil
}
