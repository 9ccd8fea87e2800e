package cuda

import (
	"fmt"
	"sort"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/ir"
)

// bufferAlign is the alignment of every buffer in device memory (what
// cuMemAlloc guarantees, and more than any kernel's vector loads need).
const bufferAlign = 256

// memoryPlan sizes the buffers of a function for bound symbols and places
// its temporaries in one arena: buffers whose lifetimes [Def, Last]
// overlap get disjoint, aligned ranges, chosen first-fit in order of
// definition. Arguments get their own allocations; weights and constants
// belong to the program.
type memoryPlan struct {
	bytes  []int64 // per buffer
	offset []int64 // per buffer: offset in the arena, -1 for non-temporaries
	arena  int64
}

func planMemory(fn *cudagen.Function, env map[string]int64) (*memoryPlan, error) {
	p := &memoryPlan{bytes: make([]int64, len(fn.Buffers)), offset: make([]int64, len(fn.Buffers))}
	type live struct{ off, size, def, last int64 }
	var placed []live
	for i, b := range fn.Buffers {
		dt, err := ir.ParseDType(b.DType)
		if err != nil {
			return nil, fmt.Errorf("buffer %s: %v", b.Name, err)
		}
		n, err := b.Elements.Eval(env)
		if err != nil {
			return nil, fmt.Errorf("buffer %s: %v", b.Name, err)
		}
		p.bytes[i] = n * int64(dt.Size())
		p.offset[i] = -1
		if b.Kind != cudagen.BufferTemp {
			continue
		}
		size := alignUp(p.bytes[i])
		var busy []live
		for _, l := range placed {
			if l.def <= int64(b.Last) && int64(b.Def) <= l.last {
				busy = append(busy, l)
			}
		}
		sort.Slice(busy, func(a, c int) bool { return busy[a].off < busy[c].off })
		off := int64(0)
		for _, l := range busy {
			if off+size <= l.off {
				break
			}
			off = max(off, l.off+l.size)
		}
		p.offset[i] = off
		placed = append(placed, live{off, size, int64(b.Def), int64(b.Last)})
		p.arena = max(p.arena, off+size)
	}
	return p, nil
}

func alignUp(n int64) int64 { return (n + bufferAlign - 1) / bufferAlign * bufferAlign }
