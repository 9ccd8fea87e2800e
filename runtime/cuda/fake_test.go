package cuda

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// fakeDriver stands in for libcuda in tests of the backend's bookkeeping
// on machines without a GPU: device memory is host memory, a launch runs
// nothing but checks its grid and that every buffer argument points into
// an allocation, and every call is recorded.
type fakeDriver struct {
	table    *cudagen.Table
	mem      map[uint64][]byte // allocations by base address
	next     uint64
	kernels  map[uintptr]int // function handle -> kernel index
	launches []fakeLaunch
	calls    map[string]int
	cstrings [][]byte // keeps the error strings handed out alive
	// onSync, when set, runs at cuCtxSynchronize with the launches since
	// the previous one (a test computes their results there).
	onSync func(launches []fakeLaunch) cuResult
	synced int // launches before the last cuCtxSynchronize
}

type fakeLaunch struct {
	kernel int
	grid   [3]uint32
	args   []uint64
	params unsafe.Pointer // the kernelParams block passed
}

// Results the fake returns.
const (
	fakeInvalidValue  cuResult = 1
	fakeNotFound      cuResult = 500
	fakeLaunchFailure cuResult = 719
)

func newFakeDriver(table *cudagen.Table) *fakeDriver {
	return &fakeDriver{table: table, mem: map[uint64][]byte{}, next: 1 << 20, kernels: map[uintptr]int{}, calls: map[string]int{}}
}

// find returns the allocation holding [addr, addr+n).
func (f *fakeDriver) find(addr, n uint64) ([]byte, bool) {
	for base, b := range f.mem {
		if addr >= base && addr+n <= base+uint64(len(b)) {
			return b[addr-base : addr-base+n], true
		}
	}
	return nil, false
}

func (f *fakeDriver) api() *driverAPI {
	ok := func(name string) cuResult { f.calls[name]++; return 0 }
	return &driverAPI{
		cuCtxSetCurrent: func(uintptr) cuResult { return ok("cuCtxSetCurrent") },
		cuCtxSynchronize: func() cuResult {
			pending := f.launches[f.synced:]
			f.synced = len(f.launches)
			if f.onSync != nil {
				if res := f.onSync(pending); res != 0 {
					return res
				}
			}
			return ok("cuCtxSynchronize")
		},
		cuModuleLoadData: func(m *uintptr, image *byte) cuResult {
			if *image != '/' { // NVRTC's PTX starts with a comment
				return fakeInvalidValue
			}
			*m = 1
			return ok("cuModuleLoadData")
		},
		cuModuleUnload: func(uintptr) cuResult { return ok("cuModuleUnload") },
		cuModuleGetFunction: func(fn *uintptr, _ uintptr, name *byte) cuResult {
			s := cStringAt(name)
			for i, k := range f.table.Kernels {
				if k.Name == s {
					*fn = uintptr(100 + i)
					f.kernels[*fn] = i
					return ok("cuModuleGetFunction")
				}
			}
			return fakeNotFound
		},
		cuMemAlloc: func(p *uint64, n uint64) cuResult {
			*p = f.next
			f.mem[f.next] = make([]byte, n)
			f.next += (n + 255) / 256 * 256
			return ok("cuMemAlloc")
		},
		cuMemFree: func(p uint64) cuResult {
			if _, found := f.mem[p]; !found {
				return fakeInvalidValue
			}
			delete(f.mem, p)
			return ok("cuMemFree")
		},
		cuMemcpyHtoD: func(dst uint64, src unsafe.Pointer, n uint64) cuResult {
			d, found := f.find(dst, n)
			if !found {
				return fakeInvalidValue
			}
			copy(d, unsafe.Slice((*byte)(src), n))
			return ok("cuMemcpyHtoD")
		},
		cuMemcpyDtoH: func(dst unsafe.Pointer, src uint64, n uint64) cuResult {
			s, found := f.find(src, n)
			if !found {
				return fakeInvalidValue
			}
			copy(unsafe.Slice((*byte)(dst), n), s)
			return ok("cuMemcpyDtoH")
		},
		cuMemcpyDtoD: func(dst, src uint64, n uint64) cuResult {
			d, found1 := f.find(dst, n)
			s, found2 := f.find(src, n)
			if !found1 || !found2 {
				return fakeInvalidValue
			}
			copy(d, s)
			return ok("cuMemcpyDtoD")
		},
		cuMemsetD8: func(dst uint64, v uint8, n uint64) cuResult {
			d, found := f.find(dst, n)
			if !found {
				return fakeInvalidValue
			}
			for i := range d {
				d[i] = v
			}
			return ok("cuMemsetD8")
		},
		cuLaunchKernel: func(fn uintptr, gx, gy, gz, bx, by, bz, shared uint32, stream uintptr, params, extra unsafe.Pointer) cuResult {
			k, found := f.kernels[fn]
			if !found || gx == 0 || gy == 0 || gz == 0 || int(bx*by*bz) != f.table.Kernels[k].Threads || shared != 0 {
				return fakeLaunchFailure
			}
			l := fakeLaunch{kernel: k, grid: [3]uint32{gx, gy, gz}, params: params}
			if params != nil {
				for _, p := range unsafe.Slice((*unsafe.Pointer)(params), f.argCount(k)) {
					l.args = append(l.args, *(*uint64)(p))
				}
			}
			f.launches = append(f.launches, l)
			return ok("cuLaunchKernel")
		},
		cuGetErrorName:   func(res cuResult, s **byte) cuResult { *s = f.cstring(fmt.Sprintf("FAKE_ERROR_%d", res)); return 0 },
		cuGetErrorString: func(res cuResult, s **byte) cuResult { *s = f.cstring("fake driver error"); return 0 },
	}
}

// argCount is the number of arguments the table's launches pass kernel k.
func (f *fakeDriver) argCount(k int) int {
	for _, fn := range f.table.Functions {
		for _, l := range fn.Launches {
			if l.Kernel == k {
				return len(l.Args)
			}
		}
	}
	return 0
}

func (f *fakeDriver) cstring(s string) *byte {
	b := cString(s)
	f.cstrings = append(f.cstrings, b)
	return &b[0]
}

// fakeDevice is a Device backed by f.
func fakeDevice(f *fakeDriver) *Device {
	return &Device{api: f.api(), ctx: 1, Name: "fake", Major: 8, Minor: 0}
}

// loadFake loads gen on a fake device. It needs NVRTC (Load compiles the
// translation unit) but no GPU.
func loadFake(t *testing.T, gen *cudagen.Program, weights map[string]*ir.Tensor) (*fakeDriver, *Program) {
	t.Helper()
	nvrtcForTest(t)
	f := newFakeDriver(gen.Table)
	prog, err := Load(fakeDevice(f), gen, weights)
	if err != nil {
		t.Fatal(err)
	}
	return f, prog
}

// TestFakeRun loads the conformance cases on the fake driver and runs each
// function: every weight must arrive intact, and every launch must get
// its grid and arguments as the launch table says, each buffer argument
// pointing at an allocation large enough for the buffer.
func TestFakeRun(t *testing.T) {
	m, err := cudatest.Module()
	if err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	weights, data := conformanceData(t, m)
	f, prog := loadFake(t, gen, weights)
	for name, w := range weights {
		got, found := f.find(prog.weights[name], uint64(len(w.Data)))
		if !found || string(got) != string(w.Data) {
			t.Errorf("weight %s was not uploaded intact", name)
		}
	}
	allocs := len(f.mem)
	for _, c := range cudatest.Cases {
		inst, err := prog.Instantiate(c.Name, c.Env)
		if err != nil {
			t.Fatal(err)
		}
		first := len(f.launches)
		res, err := inst.Run(data[c.Name].inputs)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if len(res) != len(inst.fn.Results) {
			t.Errorf("%s: %d results, want %d", c.Name, len(res), len(inst.fn.Results))
		}
		var want []*cudagen.Launch
		for i := range inst.fn.Launches {
			if g, _ := inst.fn.Launches[i].GridSize(c.Env); g[0]*g[1]*g[2] > 0 {
				want = append(want, &inst.fn.Launches[i])
			}
		}
		got := f.launches[first:]
		if len(got) != len(want) {
			t.Fatalf("%s: %d launches, want %d", c.Name, len(got), len(want))
		}
		for i, l := range want {
			grid, _ := l.GridSize(c.Env)
			if got[i].kernel != l.Kernel || got[i].grid != grid || len(got[i].args) != len(l.Args) {
				t.Fatalf("%s launch %d: kernel %d grid %v with %d arguments, want %d, %v, %d", c.Name, i,
					got[i].kernel, got[i].grid, len(got[i].args), l.Kernel, grid, len(l.Args))
			}
			for j, a := range l.Args {
				if a.Buffer == nil {
					if n, _ := a.Size.Eval(c.Env); got[i].args[j] != uint64(n) {
						t.Errorf("%s launch %d argument %d: %d, want the size %v = %d", c.Name, i, j, got[i].args[j], a.Size, n)
					}
					continue
				}
				if _, found := f.find(got[i].args[j], uint64(inst.plan.bytes[*a.Buffer])); !found {
					t.Errorf("%s launch %d argument %d: %#x does not hold the %d bytes of %s", c.Name, i, j,
						got[i].args[j], inst.plan.bytes[*a.Buffer], inst.fn.Buffers[*a.Buffer].Name)
				}
			}
		}
		if err := inst.Close(); err != nil {
			t.Fatal(err)
		}
		if len(f.mem) != allocs {
			t.Errorf("%s: %d allocations after Close, want %d", c.Name, len(f.mem), allocs)
		}
	}
	if err := prog.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.mem) != 0 || f.calls["cuModuleUnload"] != 1 {
		t.Errorf("after Close: %d allocations left, %d module unloads", len(f.mem), f.calls["cuModuleUnload"])
	}
}

// TestFakeDecoder drives a Decoder over the tiny-mamba model on the fake
// driver: states start zeroed, each step copies every new state into the
// step's inputs on the device and downloads only the logits, and
// TakeStates hands a prefill's states over on the device.
func TestFakeDecoder(t *testing.T) {
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Skipf("tiny-mamba checkpoint not available: %v", err)
	}
	defer model.Close()
	if _, err := passes.Run(model.Module, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(model.Module)
	if err != nil {
		t.Fatal(err)
	}
	f, prog := loadFake(t, gen, model.Module.Weights)
	defer prog.Close()
	dec, err := prog.NewDecoder(2)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	states := len(dec.step.fn.Args) - 1
	if f.calls["cuMemsetD8"] != states {
		t.Errorf("%d states zeroed, want %d", f.calls["cuMemsetD8"], states)
	}
	for step := 1; step <= 2; step++ {
		// Mark each state result so that the copy into the inputs shows.
		for j := 1; j <= states; j++ {
			r := dec.step.fn.Results[j].Buffer
			b, _ := f.find(dec.step.addr[r], uint64(dec.step.plan.bytes[r]))
			for i := range b {
				b[i] = byte(step*16 + j)
			}
		}
		before := f.calls["cuMemcpyDtoH"]
		logits, err := dec.Step([]int64{3, 4})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(logits.Shape) != "[2 256]" || f.calls["cuMemcpyDtoH"] != before+1 {
			t.Errorf("step %d: logits %v after %d downloads, want [2 256] after one", step, logits.Shape, f.calls["cuMemcpyDtoH"]-before)
		}
		for j := 1; j <= states; j++ {
			a := dec.step.fn.Args[j].Buffer
			b, _ := f.find(dec.step.addr[a], uint64(dec.step.plan.bytes[a]))
			if len(b) == 0 || b[0] != byte(step*16+j) || b[len(b)-1] != byte(step*16+j) {
				t.Errorf("step %d: state %d was not copied into the next step's input", step, j)
			}
		}
	}
	prefill, err := prog.Instantiate("prefill", map[string]int64{"B": 2, "L": 5})
	if err != nil {
		t.Fatal(err)
	}
	defer prefill.Close()
	copies := f.calls["cuMemcpyDtoD"]
	if err := dec.TakeStates(prefill); err != nil {
		t.Fatal(err)
	}
	if f.calls["cuMemcpyDtoD"] != copies+states {
		t.Errorf("TakeStates made %d device copies, want %d", f.calls["cuMemcpyDtoD"]-copies, states)
	}
	if _, err := dec.Step([]int64{1}); err == nil {
		t.Error("a step with one token for a batch of 2 succeeded")
	}
}

// TestFakeLoadArtifact saves the tiny-mamba model with its CUDA sections,
// as `ssmc compile --target cuda` does, and loads it back on the fake
// driver; an artifact without the sections is refused with a hint.
func TestFakeLoadArtifact(t *testing.T) {
	nvrtcForTest(t)
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Skipf("tiny-mamba checkpoint not available: %v", err)
	}
	defer model.Close()
	m := model.Module
	if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	table, err := cudagen.MarshalTable(gen.Table)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	with, without := filepath.Join(dir, "cuda.ssmc"), filepath.Join(dir, "cpu.ssmc")
	sections := []artifact.Section{{Name: cudagen.SourceSection, Data: []byte(gen.Source)}, {Name: cudagen.TableSection, Data: table}}
	if err := artifact.Save(with, m, artifact.Meta{Producer: "test"}, sections...); err != nil {
		t.Fatal(err)
	}
	if err := artifact.Save(without, m, artifact.Meta{Producer: "test"}); err != nil {
		t.Fatal(err)
	}
	art, err := artifact.Load(with)
	if err != nil {
		t.Fatal(err)
	}
	defer art.Close()
	f := newFakeDriver(gen.Table)
	prog, err := LoadArtifact(fakeDevice(f), art)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if len(prog.funcs) != len(gen.Table.Kernels) || len(prog.weights) == 0 {
		t.Errorf("loaded %d kernels and %d weights, want %d kernels and the model's weights", len(prog.funcs), len(prog.weights), len(gen.Table.Kernels))
	}
	plain, err := artifact.Load(without)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := LoadArtifact(fakeDevice(f), plain); err == nil || !strings.Contains(err.Error(), "--target cuda") {
		t.Errorf("loading an artifact without kernels: got %v, want a hint to compile with --target cuda", err)
	}
}
