package ssmc

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
	"github.com/ssmc-dev/ssmc/runtime/backend"
	"github.com/ssmc-dev/ssmc/runtime/cuda"
)

// testBackend is a registered backend for the selection tests: available
// or not, compiling on the CPU or failing, counting the programs closed.
type testBackend struct {
	name   string
	avail  bool
	broken bool
	closed atomic.Int32
}

func (b *testBackend) Name() string { return b.name }

func (b *testBackend) Available() (bool, string) {
	if !b.avail {
		return false, "no " + b.name + " device"
	}
	return true, b.name + " device 0"
}

func (b *testBackend) Compile(f *ir.Func, w map[string]*ir.Tensor) (backend.Program, error) {
	if b.broken {
		return nil, errors.New("op Foo is not supported")
	}
	p, err := backend.CPU{}.Compile(f, w)
	return &closingProgram{p, b}, err
}

// closingProgram is a CPU program that counts Close calls.
type closingProgram struct {
	backend.Program
	b *testBackend
}

func (p *closingProgram) Close() error { p.b.closed.Add(1); return nil }

var (
	accel  = &testBackend{name: "test-accel", avail: true}
	absent = &testBackend{name: "test-absent"}
	broken = &testBackend{name: "test-broken", avail: true, broken: true}
)

func init() {
	for _, b := range []*testBackend{accel, absent, broken} {
		backend.Register(b)
	}
}

// TestSelectBackend checks every way LoadOptions.Backend selects, with
// the "auto" candidates replaced by the test backends: auto takes the
// first candidate that is available and compiles the model, else the CPU
// with the reasons; a named backend is used or is an error with the
// reason.
func TestSelectBackend(t *testing.T) {
	defer func(saved []string) { autoBackends = saved }(autoBackends)
	mod := buildTestModule(t, 21)
	tests := []struct {
		name        string
		auto        []string
		backend     string
		want        string // backend chosen
		wantReason  string
		wantErr     string
		wantClosing bool
	}{
		{name: "auto absent", auto: []string{"test-absent"}, want: "cpu", wantReason: "auto: backend test-absent is not available: no test-absent device"},
		{name: "auto broken", auto: []string{"test-broken"}, backend: "auto", want: "cpu", wantReason: "auto: backend test-broken cannot compile the model: op Foo is not supported"},
		{name: "auto not built in", auto: []string{"test-none"}, want: "cpu", wantReason: `backend "test-none" is not built in`},
		{name: "auto none", auto: nil, want: "cpu", wantReason: "auto: no accelerator backend is built in"},
		{name: "auto second", auto: []string{"test-absent", "test-accel"}, want: "test-accel", wantReason: "test-accel device 0", wantClosing: true},
		{name: "cpu", backend: "cpu", want: "cpu", wantReason: "requested"},
		{name: "named", backend: "test-accel", want: "test-accel", wantReason: "test-accel device 0", wantClosing: true},
		{name: "named absent", backend: "test-absent", wantErr: "backend test-absent is not available: no test-absent device"},
		{name: "named broken", backend: "test-broken", wantErr: "backend test-broken cannot compile the model: op Foo is not supported"},
		{name: "unknown", backend: "tpu", wantErr: `backend "tpu" is not built in`},
	}
	ref, err := FromModule(mod)
	if err != nil {
		t.Fatal(err)
	}
	prompt := tokens(3, 6, ref.VocabSize())
	rs, _ := ref.NewSession(SessionOptions{})
	want, err := rs.Prefill(ctx, prompt)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]float32(nil), want...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			autoBackends = tt.auto
			m, err := FromModuleWith(mod, LoadOptions{Backend: tt.backend})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Backend() != tt.want || !strings.Contains(m.BackendReason(), tt.wantReason) {
				t.Errorf("backend %s (%s), want %s (%s)", m.Backend(), m.BackendReason(), tt.want, tt.wantReason)
			}
			s, err := m.NewSession(SessionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Prefill(ctx, prompt)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(got, want); d != 0 {
				t.Errorf("logits differ from the CPU model's by %g", d)
			}
			before := accel.closed.Load()
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if closed := accel.closed.Load() - before; tt.wantClosing != (closed == 2) {
				t.Errorf("Close closed %d programs", closed)
			}
		})
	}
}

// TestAutoOnThisMachine: with the real candidates, "auto" runs on CUDA
// exactly when runtime/cuda says it is available, and otherwise falls
// back to the CPU giving CUDA's reason; "cuda" is an error carrying the
// same reason. Without a GPU both are checked; with one, the GPU model
// must agree with the CPU model.
func TestAutoOnThisMachine(t *testing.T) {
	mod := buildTestModule(t, 22)
	ok, about := cuda.Available()
	m, err := FromModuleWith(mod, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("auto: %s (%s)", m.Backend(), m.BackendReason())
	explicit, err := FromModuleWith(mod, LoadOptions{Backend: "cuda"})
	if !ok {
		if m.Backend() != "cpu" || !strings.Contains(m.BackendReason(), about) || !strings.HasPrefix(m.BackendReason(), "auto: backend cuda is not available") {
			t.Errorf("auto without CUDA: %s (%s), want cpu with the reason %q", m.Backend(), m.BackendReason(), about)
		}
		if err == nil || !strings.Contains(err.Error(), about) {
			t.Errorf("explicit cuda without CUDA: %v, want an error with the reason %q", err, about)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer explicit.Close()
	if m.Backend() != "cuda" || explicit.Backend() != "cuda" || m.BackendReason() != about {
		t.Errorf("with CUDA: auto %s (%s), explicit %s", m.Backend(), m.BackendReason(), explicit.Backend())
	}
	ref := testModel(t, 22)
	prompt := tokens(4, 9, ref.VocabSize())
	run := func(m *Model) []float32 {
		s, err := m.NewSession(SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Prefill(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		out := append([]float32(nil), l...)
		for _, tok := range prompt[:4] {
			l, err := s.Step(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, l...)
		}
		return out
	}
	if d := maxDiff(run(m), run(ref)); d > 1e-3 {
		t.Errorf("GPU logits differ from the CPU's by %g", d)
	}
}

// TestLoadWithPlanCheck: the artifact's CPU plans are checked when the
// model runs on the CPU (a tampered plan is refused) and not on another
// backend, which does not execute them.
func TestLoadWithPlanCheck(t *testing.T) {
	mod := buildTestModule(t, 23)
	sec, err := PlanSection(mod)
	if err != nil {
		t.Fatal(err)
	}
	sec.Data = []byte(strings.Replace(string(sec.Data), `"in_place":-1`, `"in_place":0`, 1))
	path := filepath.Join(t.TempDir(), "tampered.ssmc")
	if err := artifact.Save(path, mod, artifact.Meta{}, sec); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(path, LoadOptions{Backend: "cpu"}); err == nil || !strings.Contains(err.Error(), "recompile the model") {
		t.Errorf("cpu: %v, want the plan check to refuse the file", err)
	}
	m, err := LoadWith(path, LoadOptions{Backend: "test-accel"})
	if err != nil {
		t.Fatalf("test-accel: %v", err)
	}
	if m.Backend() != "test-accel" {
		t.Errorf("backend %s", m.Backend())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(path, LoadOptions{Backend: "test-absent"}); err == nil || !strings.Contains(err.Error(), "no test-absent device") {
		t.Errorf("test-absent: %v", err)
	}
}

// TestSelectedCPUStepAllocs: a model that chose the CPU through
// LoadOptions decodes without allocating, like FromModule's.
func TestSelectedCPUStepAllocs(t *testing.T) {
	for _, b := range []string{"cpu", "test-absent-fallback"} {
		opts := LoadOptions{Backend: b}
		if b == "test-absent-fallback" {
			defer func(saved []string) { autoBackends = saved }(autoBackends)
			autoBackends = []string{"test-absent"}
			opts.Backend = "auto"
		}
		m, err := FromModuleWith(buildTestModule(t, 24), opts)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := m.NewSession(SessionOptions{})
		if _, err := s.Prefill(ctx, []int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		s.Step(ctx, 1)
		if allocs := testing.AllocsPerRun(50, func() { s.Step(ctx, 7) }); allocs != 0 {
			t.Errorf("%s: Step allocates %v times per call", b, allocs)
		}
	}
}
