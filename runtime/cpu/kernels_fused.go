package cpu

import (
	"math"
	"sync"

	"github.com/ssmc-dev/ssmc/ir"
)

// Kernels of the fused ops of ir/ops_fused.go: AddRMSNorm and
// FusedElementwise.

func init() {
	register(ir.OpAddRMSNorm, addRMSNormKernel)
	register(ir.OpFusedElementwise, fusedElementwiseKernel)
}

// addRMSNormKernel adds the residual and normalizes each row of the sum
// (n elements along the last axis):
//
//	sum[i] = x[i] + residual[i]                    (float32)
//	ms = sum_j sum[r, j]² / n                      (accumulated in float32)
//	normed[r, i] = sum[r, i] · (1 / sqrt(ms + eps)) · weight[i]
//
// exactly the arithmetic of an Add kernel followed by the RMSNorm kernel.
func addRMSNormKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	x, err := f32Operand(v, in, 0, "x")
	if err != nil {
		return err
	}
	res, err := f32Operand(v, in, 1, "residual")
	if err != nil {
		return err
	}
	w, err := f32Operand(v, in, 2, "weight")
	if err != nil {
		return err
	}
	sum, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	y, err := f32Result(v, out, 1)
	if err != nil {
		return err
	}
	r := len(x.Shape)
	if r == 0 || !sameShape(x.Shape, res.Shape) || !sameShape(x.Shape, sum.Shape) || !sameShape(x.Shape, y.Shape) ||
		len(w.Shape) != 1 || w.Shape[0] != x.Shape[r-1] {
		return kernelError(v, "x %v, residual %v, weight %v, results %v and %v: want x's shape throughout and weight [last dim]",
			x, res, w, sum, y)
	}
	xs, rs, ss := x.F32, res.F32[:len(x.F32)], sum.F32[:len(x.F32)]
	for i, a := range xs {
		ss[i] = a + rs[i]
	}
	n := x.Shape[r-1]
	if n == 0 {
		return nil
	}
	eps := v.FloatAttr("eps")
	wv := w.F32[:n]
	for o := 0; o+n <= len(ss); o += n {
		row, yr := ss[o:o+n], y.F32[o:o+n]
		ms := float64(sumSquares(row)) / float64(n)
		inv := float32(1 / math.Sqrt(ms+eps))
		for i, a := range row {
			yr[i] = a * inv * wv[i]
		}
	}
	return nil
}

// feBlock is how many elements fusedElementwiseKernel evaluates at a time.
const feBlock = 256

// feInstr is one instruction of a compiled expression, a stack machine:
// OpArg pushes a block of operand k, OpConst pushes c, a unary op
// replaces the top block, a binary op pops b and replaces a with a op b.
type feInstr struct {
	op ir.Op
	k  int
	c  float32
}

// feProgram is a compiled FusedElementwise expression.
type feProgram struct {
	code  []feInstr
	depth int // the most blocks on the stack at once
}

// feCacheMax bounds the compiled-expression cache; beyond it expressions
// are compiled on every call.
const feCacheMax = 1024

// feCache holds compiled expressions by expression and operand count, so
// that warm calls compile nothing.
var feCache struct {
	sync.RWMutex
	m map[feKey]*feProgram
}

type feKey struct {
	expr string
	n    int
}

// feProgramFor returns the compiled program of expr over n operands.
func feProgramFor(expr string, n int) (*feProgram, error) {
	key := feKey{expr, n}
	feCache.RLock()
	p := feCache.m[key]
	feCache.RUnlock()
	if p != nil {
		return p, nil
	}
	e, err := ir.ParseExpr(expr, n)
	if err != nil {
		return nil, err
	}
	p = &feProgram{}
	sp := 0
	var emit func(e *ir.Expr)
	emit = func(e *ir.Expr) {
		for _, a := range e.Args {
			emit(a)
		}
		switch {
		case e.Op == ir.OpArg:
			p.code = append(p.code, feInstr{op: ir.OpArg, k: e.Input})
			sp++
		case e.Op == ir.OpConst:
			p.code = append(p.code, feInstr{op: ir.OpConst, c: float32(e.Value)})
			sp++
		default:
			p.code = append(p.code, feInstr{op: e.Op})
			sp -= len(e.Args) - 1
		}
		p.depth = max(p.depth, sp)
	}
	emit(e)
	feCache.Lock()
	if feCache.m == nil {
		feCache.m = map[feKey]*feProgram{}
	}
	if len(feCache.m) < feCacheMax {
		feCache.m[key] = p
	}
	feCache.Unlock()
	return p, nil
}

// fusedElementwiseKernel evaluates the expression of a FusedElementwise
// for every element, in blocks of feBlock elements on a stack of blocks:
//
//	for each block of y:
//	    run the expression's postfix code, operand k read at its
//	    broadcast index, every op computed as its own kernel computes it
//	    (float32 arithmetic; exp, log, sqrt, rsqrt, sigmoid, silu,
//	    softplus, tanh and pow in float64 rounded to float32)
//	    y[block] = the remaining stack block
//
// Operands broadcast to y's shape (NumPy rules). Like the other kernels
// it computes in float32 whatever the IR dtype. y may share memory with
// an operand of its shape: each block is read before it is written.
func fusedElementwiseKernel(s *Scratch, v *ir.Value, in, out []*Tensor) error {
	y, err := f32Result(v, out, 0)
	if err != nil {
		return err
	}
	if len(in) == 0 || len(in) > ir.MaxExprInputs {
		return kernelError(v, "%d operands, want 1 to %d", len(in), ir.MaxExprInputs)
	}
	var xs [ir.MaxExprInputs]*Tensor
	for k := range in {
		if xs[k], err = f32Operand(v, in, k, "x"); err != nil {
			return err
		}
	}
	prog, err := feProgramFor(v.StringAttr("expr"), len(in))
	if err != nil {
		return kernelError(v, "expr: %v", err)
	}
	r := len(y.Shape)
	ints := s.Ints((len(in) + 1) * r)
	st, idx := ints[:len(in)*r], ints[len(in)*r:]
	var same [ir.MaxExprInputs]bool
	for k := range in {
		if !feStrides(xs[k].Shape, y.Shape, st[k*r:(k+1)*r]) {
			return kernelError(v, "operand %d %v does not broadcast to the result %v", k, xs[k], y)
		}
		same[k] = sameShape(xs[k].Shape, y.Shape)
	}
	buf := s.F32(max(prog.depth, 1) * feBlock)
	total := len(y.F32)
	for o := 0; o < total; o += feBlock {
		n := min(feBlock, total-o)
		sp := 0
		for _, ins := range prog.code {
			switch ins.op {
			case ir.OpArg:
				dst := buf[sp*feBlock : sp*feBlock+n]
				if same[ins.k] {
					copy(dst, xs[ins.k].F32[o:o+n])
				} else {
					feGather(dst, xs[ins.k].F32, st[ins.k*r:(ins.k+1)*r], y.Shape, idx, o)
				}
				sp++
			case ir.OpConst:
				dst := buf[sp*feBlock : sp*feBlock+n]
				for i := range dst {
					dst[i] = ins.c
				}
				sp++
			default:
				if len(ins.op.Info().Args) == 1 {
					if !feUnary(ins.op, buf[(sp-1)*feBlock:(sp-1)*feBlock+n]) {
						return kernelError(v, "no f32 kernel for %v", ins.op)
					}
					continue
				}
				sp--
				if !feBinary(ins.op, buf[(sp-1)*feBlock:(sp-1)*feBlock+n], buf[sp*feBlock:sp*feBlock+n]) {
					return kernelError(v, "no f32 kernel for %v", ins.op)
				}
			}
		}
		copy(y.F32[o:o+n], buf[:n])
	}
	return nil
}

// feStrides writes into st the strides (in elements) of a tensor of shape
// in read broadcast to shape out, 0 along broadcast dims; it reports
// false when in does not broadcast to out.
func feStrides(in, out, st []int) bool {
	if len(in) > len(out) {
		return false
	}
	acc := 1
	for d := len(out) - 1; d >= 0; d-- {
		j := d - (len(out) - len(in))
		switch {
		case j < 0 || in[j] == 1 && out[d] != 1:
			st[d] = 0
		case in[j] == out[d]:
			st[d] = acc
		default:
			return false
		}
		if j >= 0 {
			acc *= in[j]
		}
	}
	return true
}

// feGather fills dst with the elements o, o+1, … of the broadcast view
// (strides st over shape) of src; idx is scratch of len(shape).
func feGather(dst, src []float32, st, shape, idx []int, o int) {
	off, rem := 0, o
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = rem % shape[d]
		rem /= shape[d]
		off += idx[d] * st[d]
	}
	last := len(shape) - 1
	for i := range dst {
		dst[i] = src[off]
		for d := last; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < shape[d] {
				break
			}
			off -= st[d] * shape[d]
			idx[d] = 0
		}
	}
}

// feUnary applies a unary op to a in place, as unaryKernel computes it.
func feUnary(op ir.Op, a []float32) bool {
	var f func(float64) float64
	switch op {
	case ir.OpNeg:
		for i, x := range a {
			a[i] = -x
		}
		return true
	case ir.OpRelu:
		for i, x := range a {
			a[i] = max(x, 0)
		}
		return true
	case ir.OpExp:
		f = math.Exp
	case ir.OpLog:
		f = math.Log
	case ir.OpSqrt:
		f = math.Sqrt
	case ir.OpRsqrt:
		f = func(x float64) float64 { return 1 / math.Sqrt(x) }
	case ir.OpSigmoid:
		f = feSigmoid
	case ir.OpSiLU:
		f = func(x float64) float64 { return x * feSigmoid(x) }
	case ir.OpSoftplus:
		f = feSoftplus
	case ir.OpTanh:
		f = math.Tanh
	default:
		return false
	}
	for i, x := range a {
		a[i] = float32(f(float64(x)))
	}
	return true
}

// feBinary computes a = a op b elementwise.
func feBinary(op ir.Op, a, b []float32) bool {
	b = b[:len(a)]
	switch op {
	case ir.OpAdd:
		for i := range a {
			a[i] += b[i]
		}
	case ir.OpSub:
		for i := range a {
			a[i] -= b[i]
		}
	case ir.OpMul:
		for i := range a {
			a[i] *= b[i]
		}
	case ir.OpDiv:
		for i := range a {
			a[i] /= b[i]
		}
	case ir.OpPow:
		for i := range a {
			a[i] = float32(math.Pow(float64(a[i]), float64(b[i])))
		}
	default:
		return false
	}
	return true
}

// feSigmoid is 1 / (1 + exp(-x)).
func feSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// feSoftplus is log(1 + exp(x)), x itself above 20.
func feSoftplus(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}
