package cuda

import (
	"testing"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/ir"
)

// TestPlanMemory plans every function of the conformance cases and of a
// Mamba-130m-shaped model and checks the plan: buffer sizes match the
// element counts, temporaries are aligned, inside the arena, and never
// overlap another temporary alive at the same time, and the arena is no
// larger than all temporaries side by side.
func TestPlanMemory(t *testing.T) {
	cases, err := cudatest.Module()
	if err != nil {
		t.Fatal(err)
	}
	model, err := cudatest.Mamba130m(2)
	if err != nil {
		t.Fatal(err)
	}
	var fns []*cudagen.Function
	envs := map[string]map[string]int64{"prefill": {"B": 2, "L": 100}, "step": {"B": 4}}
	for _, m := range []*cudagen.Program{mustGenerate(t, cases), mustGenerate(t, model)} {
		for i := range m.Table.Functions {
			fns = append(fns, &m.Table.Functions[i])
		}
	}
	for _, c := range cudatest.Cases {
		envs[c.Name] = c.Env
	}
	for _, fn := range fns {
		t.Run(fn.Name, func(t *testing.T) {
			env := envs[fn.Name]
			p, err := planMemory(fn, env)
			if err != nil {
				t.Fatal(err)
			}
			total := int64(0)
			for i, b := range fn.Buffers {
				n, _ := b.Elements.Eval(env)
				if want := n * int64(dtypeSize(t, b.DType)); p.bytes[i] != want {
					t.Errorf("buffer %s: %d bytes, want %d", b.Name, p.bytes[i], want)
				}
				if b.Kind != cudagen.BufferTemp {
					if p.offset[i] != -1 {
						t.Errorf("%s buffer %s placed in the arena", b.Kind, b.Name)
					}
					continue
				}
				total += alignUp(p.bytes[i])
				if p.offset[i]%bufferAlign != 0 || p.offset[i] < 0 || p.offset[i]+p.bytes[i] > p.arena {
					t.Errorf("buffer %s at [%d, +%d) in an arena of %d", b.Name, p.offset[i], p.bytes[i], p.arena)
				}
				for j := range i {
					o := fn.Buffers[j]
					if o.Kind != cudagen.BufferTemp || o.Last < b.Def || b.Last < o.Def || p.bytes[i] == 0 || p.bytes[j] == 0 {
						continue
					}
					if p.offset[i] < p.offset[j]+p.bytes[j] && p.offset[j] < p.offset[i]+p.bytes[i] {
						t.Errorf("buffers %s [%d..%d] and %s [%d..%d] are alive together and overlap", b.Name, b.Def, b.Last, o.Name, o.Def, o.Last)
					}
				}
			}
			if p.arena > total {
				t.Errorf("arena of %d bytes exceeds the %d of all temporaries", p.arena, total)
			}
		})
	}
}

// TestPlanReuse checks that buffers whose lifetimes do not overlap share
// memory: a chain a -> b -> c needs room for two buffers, not three.
func TestPlanReuse(t *testing.T) {
	size := cudagen.Size{Terms: []cudagen.Term{{Coef: 1000}}}
	fn := &cudagen.Function{Name: "chain", Buffers: []cudagen.Buffer{
		{Name: "a", Kind: cudagen.BufferTemp, DType: "f32", Elements: size, Def: 0, Last: 1},
		{Name: "b", Kind: cudagen.BufferTemp, DType: "f32", Elements: size, Def: 1, Last: 2},
		{Name: "c", Kind: cudagen.BufferTemp, DType: "f32", Elements: size, Def: 2, Last: 3},
	}, Launches: make([]cudagen.Launch, 3)}
	p, err := planMemory(fn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * alignUp(4000); p.arena != want {
		t.Errorf("arena %d bytes, want %d", p.arena, want)
	}
	if p.offset[0] != p.offset[2] {
		t.Errorf("a at %d and c at %d: c should reuse a's memory", p.offset[0], p.offset[2])
	}
}

func mustGenerate(t *testing.T, m *ir.Module) *cudagen.Program {
	t.Helper()
	p, err := cudagen.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dtypeSize(t *testing.T, name string) int {
	dt, err := ir.ParseDType(name)
	if err != nil {
		t.Fatal(err)
	}
	return dt.Size()
}
