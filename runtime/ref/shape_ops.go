package ref

import (
	"fmt"
	"slices"

	"github.com/ssmc-dev/ssmc/ir"
)

// The shape ops move elements without looking at them: they copy each
// element's bytes, so every dtype (bool included) and every bit pattern
// (NaN payloads, -0) passes through unchanged.

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

// remap returns the tensor of x's dtype and shape out whose element at
// multi-index j is element src(j) (a row-major flat index) of x:
//
//	for i in 0..numel(out)-1: j = unflatten(i, out); y[i] = x[src(j)]
func remap(x *ir.Tensor, out []int64, src func(j []int64) int64) *ir.Tensor {
	j := make([]int64, len(out))
	return remapFlat(x, out, func(i int64) int64 {
		unflatten(i, out, j)
		return src(j)
	})
}

// remapFlat is remap with the result element given by its flat index:
// y[i] = x[src(i)].
func remapFlat(x *ir.Tensor, out []int64, src func(i int64) int64) *ir.Tensor {
	es := int64(x.DType.Size())
	n := product(out)
	data := make([]byte, n*es)
	for i := int64(0); i < n; i++ {
		s := src(i)
		copy(data[i*es:(i+1)*es], x.Data[s*es:(s+1)*es])
	}
	return &ir.Tensor{DType: x.DType, Shape: slices.Clone(out), Data: data}
}

// evalGather takes slices of data along axis at the given indices:
//
//	outer = prod(data.shape[:axis]), n = data.shape[axis], inner = prod(data.shape[axis+1:])
//	for o < outer, j < numel(indices):
//	    i = indices[j] (+ n when negative; outside [0, n) is an error)
//	    y[o, j, :] = data[o, i, :]           (each row inner elements long)
func evalGather(c *call) ([]*ir.Tensor, error) {
	data, indices := c.args[0], c.args[1]
	ax, err := normAxis(c.at.IntAttr("axis"), len(data.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	outer, n, inner := product(data.Shape[:ax]), data.Shape[ax], product(data.Shape[ax+1:])
	ids := indices.Int64s()
	for j, i := range ids {
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil, c.errorf("index %d (element %d of indices) out of range for axis %d of size %d", ids[j], j, ax, n)
		}
		ids[j] = i
	}
	es := int64(data.DType.Size())
	row := inner * es
	cnt := int64(len(ids))
	out := make([]byte, outer*cnt*row)
	for o := int64(0); o < outer; o++ {
		for j, i := range ids {
			dst := (o*cnt + int64(j)) * row
			src := (o*n + i) * row
			copy(out[dst:dst+row], data.Data[src:src+row])
		}
	}
	return []*ir.Tensor{{DType: data.DType, Shape: c.outShape(0), Data: out}}, nil
}

// evalReshape views x's row-major elements with the new shape: y[i] = x[i].
func evalReshape(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	return []*ir.Tensor{{DType: x.DType, Shape: c.outShape(0), Data: slices.Clone(x.Data)}}, nil
}

// evalTranspose permutes the axes: y[j_0, ..., j_r-1] = x[i] with
// i[perm[k]] = j[k] (so y.shape[k] = x.shape[perm[k]]).
func evalTranspose(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	perm := c.at.IntsAttr("perm")
	st := strides(x.Shape)
	y := remap(x, c.outShape(0), func(j []int64) int64 {
		s := int64(0)
		for k, p := range perm {
			s += j[k] * st[p]
		}
		return s
	})
	return []*ir.Tensor{y}, nil
}

// evalSlice takes starts[k]:ends[k]:steps[k] on axes[k], resolved by
// ir.SliceRange into a first index and a count (negative indices count from
// the end, out-of-range ones clamp):
//
//	y[j] = x[first[d] + j[d]·step[d] for each dim d]   (first 0, step 1 on other axes)
func evalSlice(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	r := len(x.Shape)
	first, step, count := make([]int64, r), make([]int64, r), slices.Clone(x.Shape)
	for d := range step {
		step[d] = 1
	}
	axes, starts, ends, steps := c.at.IntsAttr("axes"), c.at.IntsAttr("starts"), c.at.IntsAttr("ends"), c.at.IntsAttr("steps")
	for k, a := range axes {
		d, err := normAxis(a, r)
		if err != nil || k >= len(starts) || k >= len(ends) {
			return nil, c.errorf("bad slice axis %d", a)
		}
		if steps != nil {
			step[d] = steps[k]
		}
		if step[d] == 0 {
			return nil, c.errorf("step 0 on axis %d", d)
		}
		first[d], count[d] = ir.SliceRange(x.Shape[d], starts[k], ends[k], step[d])
	}
	if out := c.outShape(0); !slices.Equal(out, count) {
		return nil, c.errorf("internal error: slice gives %v, type says %v", count, out)
	}
	st := strides(x.Shape)
	y := remap(x, count, func(j []int64) int64 {
		s := int64(0)
		for d := range j {
			s += (first[d] + j[d]*step[d]) * st[d]
		}
		return s
	})
	return []*ir.Tensor{y}, nil
}

// evalSplit cuts x along axis into consecutive pieces of the given sizes:
//
//	y_p[j] = x[j with j[axis] + sum(sizes[:p])]
func evalSplit(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	ax, err := normAxis(c.at.IntAttr("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	st := strides(x.Shape)
	off := int64(0)
	res := make([]*ir.Tensor, len(c.out))
	for p := range c.out {
		shape := c.outShape(p)
		res[p] = remap(x, shape, func(j []int64) int64 {
			s := off * st[ax]
			for d := range j {
				s += j[d] * st[d]
			}
			return s
		})
		off += shape[ax]
	}
	return res, nil
}

// evalConcat joins the operands along axis:
//
//	for each operand x_p and index j of x_p:
//	    y[j with j[axis] + sum(x_q.shape[axis] for q < p)] = x_p[j]
func evalConcat(c *call) ([]*ir.Tensor, error) {
	out := c.outShape(0)
	ax, err := normAxis(c.at.IntAttr("axis"), len(out))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	dt := c.out[0].DType
	es := int64(dt.Size())
	ost := strides(out)
	data := make([]byte, product(out)*es)
	off := int64(0)
	for _, x := range c.args {
		j := make([]int64, len(x.Shape))
		for i := int64(0); i < x.NumElements(); i++ {
			unflatten(i, x.Shape, j)
			dst := off * ost[ax]
			for d := range j {
				dst += j[d] * ost[d]
			}
			copy(data[dst*es:(dst+1)*es], x.Data[i*es:(i+1)*es])
		}
		off += x.Shape[ax]
	}
	return []*ir.Tensor{{DType: dt, Shape: out, Data: data}}, nil
}

// evalExpand broadcasts x to the result shape (NumPy rules):
// y[i] = x[bcast(i)].
func evalExpand(c *call) ([]*ir.Tensor, error) {
	x := c.args[0]
	out := c.outShape(0)
	b := newBroadcaster(x.Shape, out)
	y := remapFlat(x, out, b.index)
	return []*ir.Tensor{y}, nil
}
