package cuda

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/importers/hf"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/cpu"
)

// TestBackendRegistered: linking the package registers "cuda", which
// reports what Available reports.
func TestBackendRegistered(t *testing.T) {
	b, err := backend.Get("cuda")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(*Backend); !ok || b.Name() != "cuda" {
		t.Fatalf("backend cuda is %T named %q", b, b.Name())
	}
	ok1, why1 := b.Available()
	ok2, why2 := Available()
	if ok1 != ok2 || why1 != why2 {
		t.Errorf("Backend.Available() = (%v, %q), Available() = (%v, %q)", ok1, why1, ok2, why2)
	}
}

// TestBackendWithoutDevice: without a GPU, compiling generates the
// kernels and then fails with the reason CUDA is unavailable (not with a
// code generation error); bad requests fail before that.
func TestBackendWithoutDevice(t *testing.T) {
	m, err := ir.Parse("t.ir", "func @f(%x: f32[B,2]) -> (f32[B,2]) {\n  %1 = Neg(%x) : f32[B,2]\n  return %1\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		compile func(b *Backend) error
		want    string // "" : the unavailable error
	}{
		{"Compile", func(b *Backend) error { _, err := b.Compile(m.Funcs[0], nil); return err }, ""},
		{"CompileModule", func(b *Backend) error { _, err := b.CompileModule(m, "f"); return err }, ""},
		{"no such function", func(b *Backend) error { _, err := b.CompileModule(m, "g"); return err }, "no function @g"},
		{"no function", func(b *Backend) error { _, err := b.CompileModule(m); return err }, "no function to compile"},
		{"no kernels", func(b *Backend) error { _, err := b.CompileKernels(nil, nil, "f"); return err }, "no kernels"},
	}
	available, _ := Available()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.compile(&Backend{})
			switch {
			case tt.want != "":
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %v, want an error containing %q", err, tt.want)
				}
			case available:
				t.Skip("a GPU is available here")
			case !errors.Is(err, errUnavailable):
				t.Errorf("got %v, want the CUDA-unavailable error", err)
			}
		})
	}
}

// fakeBackend is a Backend on the fake driver f.
func fakeBackend(f *fakeDriver) *Backend {
	dev := fakeDevice(f)
	return &Backend{open: func() (*Device, error) { return dev, nil }, available: func() (bool, string) { return true, dev.String() }}
}

// cpuEmulation computes, at each synchronization of the fake driver, the
// function whose launches were made with the CPU backend: it reads the
// arguments from the fake device memory and writes the results there, as
// the kernels would. It tests the backend's plumbing (uploads, result
// buffers, downloads, states across runs), not the kernels (codegen/cuda's
// emulation and the GPU tests do that).
type cpuEmulation struct {
	t     *testing.T
	f     *fakeDriver
	progs map[string]backend.Program
	insts []*Instance
}

// track registers the device Instance behind i.
func (e *cpuEmulation) track(i backend.Instance) {
	e.insts = append(e.insts, i.(*hostInstance).st.inst)
}

func (e *cpuEmulation) sync(launches []fakeLaunch) cuResult {
	if len(launches) == 0 {
		return 0
	}
	for _, inst := range e.insts {
		if len(inst.launches) > 0 && inst.launches[0].params.block() == launches[0].params {
			if err := e.compute(inst); err != nil {
				e.t.Errorf("emulating @%s: %v", inst.fn.Name, err)
				return fakeLaunchFailure
			}
			return 0
		}
	}
	e.t.Errorf("launches of an unknown instance")
	return fakeLaunchFailure
}

func (e *cpuEmulation) compute(inst *Instance) error {
	var in []*cpu.Tensor
	for _, a := range inst.fn.Args {
		b, ok := e.f.find(inst.addr[a.Buffer], uint64(inst.plan.bytes[a.Buffer]))
		if !ok {
			return errors.New("argument outside device memory")
		}
		t, err := decodeTensor(a, inst.env, b)
		if err != nil {
			return err
		}
		in = append(in, t)
	}
	ci, err := e.progs[inst.fn.Name].Instantiate(inst.env)
	if err != nil {
		return err
	}
	res, err := ci.Run(context.Background(), in, nil)
	if err != nil {
		return err
	}
	for i, r := range inst.fn.Results {
		b := encodeTensor(res[i])
		dst, ok := e.f.find(inst.addr[r.Buffer], uint64(len(b)))
		if !ok || int64(len(b)) != inst.plan.bytes[r.Buffer] {
			return errors.New("result does not fit its buffer")
		}
		copy(dst, b)
	}
	return nil
}

// decodeTensor and encodeTensor convert f32 and i64 tensors from and to
// little-endian bytes, independently of the backend's conversions.
func decodeTensor(spec cudagen.Tensor, env map[string]int64, b []byte) (*cpu.Tensor, error) {
	dims, err := ir.EvalShape(spec.Shape, env)
	if err != nil {
		return nil, err
	}
	t := &cpu.Tensor{}
	for _, d := range dims {
		t.Shape = append(t.Shape, int(d))
	}
	switch spec.DType {
	case "f32":
		t.DType = ir.F32
		for i := 0; i+4 <= len(b); i += 4 {
			t.F32 = append(t.F32, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
	case "i64":
		t.DType = ir.I64
		for i := 0; i+8 <= len(b); i += 8 {
			t.I64 = append(t.I64, int64(binary.LittleEndian.Uint64(b[i:])))
		}
	default:
		return nil, errors.New("dtype " + spec.DType)
	}
	return t, nil
}

func encodeTensor(t *cpu.Tensor) []byte {
	var b []byte
	for _, x := range t.F32 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	for _, x := range t.I64 {
		b = binary.LittleEndian.AppendUint64(b, uint64(x))
	}
	return b
}

// tinyMambaForBackend loads the tiny-mamba checkpoint, optimized as
// `ssmc compile` does, with its CPU programs and the CUDA kernels the
// backend will generate for @prefill and @step (the fake driver needs
// their table). It skips without the checkpoint or NVRTC.
func tinyMambaForBackend(t *testing.T) (*ir.Module, map[string]backend.Program, *cudagen.Program) {
	t.Helper()
	nvrtcForTest(t)
	model, err := hf.Load(tinyMambaDir, hf.Options{})
	if err != nil {
		t.Skipf("tiny-mamba checkpoint not available: %v", err)
	}
	t.Cleanup(func() { model.Close() })
	m := model.Module
	if _, err := passes.Run(m, passes.Options{Verify: true}); err != nil {
		t.Fatal(err)
	}
	progs := map[string]backend.Program{}
	for _, name := range []string{"prefill", "step"} {
		p, err := backend.CPU{}.Compile(m.Func(name), m.Weights)
		if err != nil {
			t.Fatal(err)
		}
		progs[name] = p
	}
	sub, err := subModule(m, []string{"prefill", "step"})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := cudagen.Generate(sub)
	if err != nil {
		t.Fatal(err)
	}
	return m, progs, gen
}

// run runs inst and fails the test on an error.
func run(t *testing.T, inst backend.Instance, in, out []*cpu.Tensor) []*cpu.Tensor {
	t.Helper()
	res, err := inst.Run(context.Background(), in, out)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sameTensors fails unless got and want hold the same values.
func sameTensors(t *testing.T, what string, got, want []*cpu.Tensor) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].String() != want[i].String() || !slices.Equal(got[i].F32, want[i].F32) || !slices.Equal(got[i].I64, want[i].I64) {
			t.Errorf("%s: tensor %d (%v) differs from the CPU backend's (%v)", what, i, got[i], want[i])
		}
	}
}

func cloneTensors(ts []*cpu.Tensor) []*cpu.Tensor {
	var out []*cpu.Tensor
	for _, t := range ts {
		out = append(out, &cpu.Tensor{DType: t.DType, Shape: slices.Clone(t.Shape), F32: slices.Clone(t.F32), I64: slices.Clone(t.I64)})
	}
	return out
}

// TestBackendFakeEndToEnd runs the tiny-mamba model through the backend
// interface on the fake driver the way a Session does (a prefill, then
// steps with double-buffered states that the caller owns and changes
// between steps) next to the CPU backend, and checks every result, the
// copies each Run makes, the plan description, bad inputs, and that
// closing frees every device allocation.
func TestBackendFakeEndToEnd(t *testing.T) {
	mod, cpuProgs, gen := tinyMambaForBackend(t)
	f := newFakeDriver(gen.Table)
	emu := &cpuEmulation{t: t, f: f, progs: cpuProgs}
	f.onSync = emu.sync
	b := fakeBackend(f)
	progs, err := b.CompileModule(mod, "prefill", "step")
	if err != nil {
		t.Fatal(err)
	}
	weightAllocs := len(f.mem)
	pre, step := progs[0], progs[1]
	ctx := context.Background()

	// Prefill, with the backend's own result tensors.
	ids := &cpu.Tensor{DType: ir.I64, Shape: []int{1, 5}, I64: []int64{3, 1, 4, 1, 5}}
	gp, err := pre.Instantiate(map[string]int64{"B": 1, "L": 5})
	if err != nil {
		t.Fatal(err)
	}
	emu.track(gp)
	cp, _ := cpuProgs["prefill"].Instantiate(map[string]int64{"B": 1, "L": 5})
	want := cloneTensors(run(t, cp, []*cpu.Tensor{ids}, nil))
	got := run(t, gp, []*cpu.Tensor{ids}, nil)
	sameTensors(t, "prefill", got, want)

	// Steps: the states go in from one pair of host tensors and come out
	// into the other, as Session.StepBatch passes them.
	gs, err := step.Instantiate(map[string]int64{"B": 1})
	if err != nil {
		t.Fatal(err)
	}
	emu.track(gs)
	cs, _ := cpuProgs["step"].Instantiate(map[string]int64{"B": 1})
	gState := [2][]*cpu.Tensor{cloneTensors(got[1:]), cloneTensors(got[1:])}
	cState := [2][]*cpu.Tensor{cloneTensors(want[1:]), cloneTensors(want[1:])}
	nArgs := len(step.Describe().Args)
	for k := 0; k < 4; k++ {
		if k == 2 { // the caller changes the state in place (Session.Reset)
			for i := range gState[k%2] {
				clear(gState[k%2][i].F32)
				clear(cState[k%2][i].F32)
			}
		}
		tok := &cpu.Tensor{DType: ir.I64, Shape: []int{1, 1}, I64: []int64{int64(2 + k)}}
		up, down := f.calls["cuMemcpyHtoD"], f.calls["cuMemcpyDtoH"]
		g := run(t, gs, append([]*cpu.Tensor{tok}, gState[k%2]...), append([]*cpu.Tensor{nil}, gState[1-k%2]...))
		if f.calls["cuMemcpyHtoD"]-up != nArgs || f.calls["cuMemcpyDtoH"]-down != nArgs {
			t.Errorf("step %d: %d uploads and %d downloads, want %d each", k, f.calls["cuMemcpyHtoD"]-up, f.calls["cuMemcpyDtoH"]-down, nArgs)
		}
		for i, st := range gState[1-k%2] {
			if g[1+i] != st {
				t.Errorf("step %d: state %d was not written into the caller's tensor", k, i)
			}
		}
		c := run(t, cs, append([]*cpu.Tensor{tok}, cState[k%2]...), append([]*cpu.Tensor{nil}, cState[1-k%2]...))
		sameTensors(t, "step", g, c)
	}

	// The plan description follows the launch table.
	d := step.Describe()
	fn := gen.Table.Functions[slices.IndexFunc(gen.Table.Functions, func(f cudagen.Function) bool { return f.Name == "step" })]
	if d.Func != "step" || len(d.Steps) != len(fn.Launches) || len(d.Slots) != len(fn.Buffers) || len(d.Args) != len(fn.Args) || len(d.Results) != len(fn.Results) {
		t.Errorf("Describe: %s with %d steps, %d slots, %d args, %d results; want step, %d, %d, %d, %d",
			d.Func, len(d.Steps), len(d.Slots), len(d.Args), len(d.Results), len(fn.Launches), len(fn.Buffers), len(fn.Args), len(fn.Results))
	}
	if gs.PeakBytes() <= 0 || gp.PeakBytes() <= 0 {
		t.Errorf("PeakBytes: prefill %d, step %d", gp.PeakBytes(), gs.PeakBytes())
	}

	// Bad calls fail without launching anything.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	states := gState[0]
	bad := []struct {
		name    string
		ctx     context.Context
		in, out []*cpu.Tensor
		want    string
	}{
		{"canceled", canceled, append([]*cpu.Tensor{{DType: ir.I64, Shape: []int{1, 1}, I64: []int64{1}}}, states...), nil, "canceled"},
		{"too few inputs", ctx, []*cpu.Tensor{{DType: ir.I64, Shape: []int{1, 1}, I64: []int64{1}}}, nil, "takes"},
		{"nil input", ctx, append([]*cpu.Tensor{nil}, states...), nil, "missing tensor"},
		{"dtype", ctx, append([]*cpu.Tensor{{DType: ir.F32, Shape: []int{1, 1}, F32: []float32{1}}}, states...), nil, "want i64[1 1]"},
		{"shape", ctx, append([]*cpu.Tensor{{DType: ir.I64, Shape: []int{2, 1}, I64: []int64{1, 2}}}, states...), nil, "want i64[1 1]"},
		{"short data", ctx, append([]*cpu.Tensor{{DType: ir.I64, Shape: []int{1, 1}}}, states...), nil, "holds 0 values"},
		{"output shape", ctx, append([]*cpu.Tensor{{DType: ir.I64, Shape: []int{1, 1}, I64: []int64{1}}}, states...),
			[]*cpu.Tensor{{DType: ir.F32, Shape: []int{2}, F32: []float32{0, 0}}}, "result"},
	}
	for _, tt := range bad {
		launches := len(f.launches)
		if _, err := gs.Run(tt.ctx, tt.in, tt.out); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.want)
		}
		if len(f.launches) != launches {
			t.Errorf("%s: launched kernels", tt.name)
		}
	}

	// Closing an instance frees its memory; closing both programs frees
	// the rest and unloads the module once.
	if err := gp.(*hostInstance).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := gp.Run(ctx, []*cpu.Tensor{ids}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if err := pre.(*hostProgram).Close(); err != nil {
		t.Fatal(err)
	}
	if f.calls["cuModuleUnload"] != 0 || len(f.mem) <= weightAllocs {
		t.Errorf("closing one of two programs unloaded the module or freed the step instance")
	}
	if err := step.(*hostProgram).Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.mem) != 0 || f.calls["cuModuleUnload"] != 1 {
		t.Errorf("after Close: %d allocations left, %d module unloads", len(f.mem), f.calls["cuModuleUnload"])
	}
	if _, err := gs.Run(ctx, append([]*cpu.Tensor{{DType: ir.I64, Shape: []int{1, 1}, I64: []int64{1}}}, states...), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after the program's Close: %v", err)
	}
	if _, err := step.Instantiate(map[string]int64{"B": 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Instantiate after Close: %v", err)
	}
}

// TestBackendInstanceCollected: an instance dropped without Close frees
// its device memory once it is garbage collected.
func TestBackendInstanceCollected(t *testing.T) {
	mod, _, gen := tinyMambaForBackend(t)
	f := newFakeDriver(gen.Table)
	b := fakeBackend(f)
	progs, err := b.CompileModule(mod, "prefill", "step")
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := b.device()
	allocs := func() int {
		n := 0
		dev.do(func(*driverAPI) error { n = len(f.mem); return nil })
		return n
	}
	before := allocs()
	func() {
		inst, err := progs[0].Instantiate(map[string]int64{"B": 1, "L": 7})
		if err != nil {
			t.Fatal(err)
		}
		if allocs() == before || inst.PeakBytes() == 0 {
			t.Fatal("the instance allocated nothing")
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); allocs() != before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations after collecting the instance, want %d", allocs(), before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range progs {
		p.(*hostProgram).Close()
	}
}

// TestBackendArtifact compiles artifacts: with the kernels `ssmc compile
// --target cuda` stores (used as they are), without them (generated from
// the IR), with only one of the two sections, and with kernels whose
// functions do not match the IR (refused with a hint).
func TestBackendArtifact(t *testing.T) {
	mod, cpuProgs, gen := tinyMambaForBackend(t)
	table, err := cudagen.MarshalTable(gen.Table)
	if err != nil {
		t.Fatal(err)
	}
	var tampered cudagen.Table
	if err := json.Unmarshal(table, &tampered); err != nil {
		t.Fatal(err)
	}
	for i := range tampered.Functions {
		if tampered.Functions[i].Name == "step" {
			tampered.Functions[i].Args[0].DType = "i32"
		}
	}
	bad, err := cudagen.MarshalTable(&tampered)
	if err != nil {
		t.Fatal(err)
	}
	src := artifact.Section{Name: cudagen.SourceSection, Data: []byte(gen.Source)}
	tests := []struct {
		name     string
		sections []artifact.Section
		want     string // error; "" for success
	}{
		{"kernels", []artifact.Section{src, {Name: cudagen.TableSection, Data: table}}, ""},
		{"no kernels", nil, ""},
		{"source only", []artifact.Section{src}, "only one of the sections"},
		{"mismatched", []artifact.Section{src, {Name: cudagen.TableSection, Data: bad}}, "recompile with --target cuda"},
		{"corrupt table", []artifact.Section{src, {Name: cudagen.TableSection, Data: []byte("{")}}, "launch table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.ssmc")
			if err := artifact.Save(path, mod, artifact.Meta{Producer: "test"}, tt.sections...); err != nil {
				t.Fatal(err)
			}
			art, err := artifact.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer art.Close()
			f := newFakeDriver(gen.Table)
			emu := &cpuEmulation{t: t, f: f, progs: cpuProgs}
			f.onSync = emu.sync
			progs, err := fakeBackend(f).CompileArtifact(art, "prefill", "step")
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error containing %q", err, tt.want)
				}
				if f.calls["cuModuleLoadData"] != 0 {
					t.Error("loaded kernels anyway")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer progs[0].(*hostProgram).Close()
			defer progs[1].(*hostProgram).Close()
			inst, err := progs[0].Instantiate(map[string]int64{"B": 1, "L": 3})
			if err != nil {
				t.Fatal(err)
			}
			emu.track(inst)
			ids := &cpu.Tensor{DType: ir.I64, Shape: []int{1, 3}, I64: []int64{7, 8, 9}}
			ci, _ := cpuProgs["prefill"].Instantiate(map[string]int64{"B": 1, "L": 3})
			sameTensors(t, "prefill", run(t, inst, []*cpu.Tensor{ids}, nil), run(t, ci, []*cpu.Tensor{ids}, nil))
		})
	}
}

// TestHostBytes checks the views of host tensors the backend copies.
func TestHostBytes(t *testing.T) {
	f32 := hostType{ir.F32, []int{2}}
	tests := []struct {
		name string
		t    *cpu.Tensor
		ht   hostType
		want []byte
		err  string
	}{
		{"f32", &cpu.Tensor{DType: ir.F32, Shape: []int{2}, F32: []float32{1, -2}}, f32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, ""},
		{"i64", &cpu.Tensor{DType: ir.I64, Shape: []int{1}, I64: []int64{258}}, hostType{ir.I64, []int{1}}, []byte{2, 1, 0, 0, 0, 0, 0, 0}, ""},
		{"bf16", &cpu.Tensor{DType: ir.BF16, Shape: []int{1}, Raw: []byte{0x80, 0x3f}}, hostType{ir.BF16, []int{1}}, []byte{0x80, 0x3f}, ""},
		{"empty", &cpu.Tensor{DType: ir.F32, Shape: []int{0}}, hostType{ir.F32, []int{0}}, nil, ""},
		{"nil", nil, f32, nil, "missing"},
		{"dtype", &cpu.Tensor{DType: ir.I64, Shape: []int{2}, I64: []int64{1, 2}}, f32, nil, "want f32[2]"},
		{"shape", &cpu.Tensor{DType: ir.F32, Shape: []int{1, 2}, F32: []float32{1, 2}}, f32, nil, "want f32[2]"},
		{"short", &cpu.Tensor{DType: ir.F32, Shape: []int{2}, F32: []float32{1}}, f32, nil, "holds 1 values, want 2"},
		{"odd raw", &cpu.Tensor{DType: ir.F16, Shape: []int{1}, Raw: []byte{1}}, hostType{ir.F16, []int{1}}, nil, "want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hostBytes(tt.t, tt.ht)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil || string(b) != string(tt.want) {
				t.Errorf("got % x, %v; want % x", b, err, tt.want)
			}
			if len(b) > 0 && tt.t.F32 != nil && unsafe.Pointer(&b[0]) != unsafe.Pointer(&tt.t.F32[0]) {
				t.Error("the bytes are a copy, not a view")
			}
		})
	}
}
