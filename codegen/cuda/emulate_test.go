package cuda

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmc-dev/ssmc/ir"
)

// The emulation harness: it compiles a Program's translation unit as C++
// together with testdata/emulation/cuda_emulation.h (CUDA built-ins on
// std::threads) and testdata/emulation/driver.cc (which executes a launch
// plan), then runs the launch table of a function on given inputs.
// Binaries are cached under the temp dir, keyed by a hash of everything
// that goes into them, so that a second `go test` compiles nothing.

// emulationFlags are the C++ compiler flags of the emulation driver.
var emulationFlags = []string{"-std=c++20", "-O1", "-pthread", "-w"}

// emulationTimeout bounds one run of the driver; a kernel whose threads
// miss a barrier hangs rather than fails.
const emulationTimeout = 3 * time.Minute

// findCXX returns a C++ compiler, or "" when there is none.
func findCXX() string {
	for _, c := range []string{"g++", "clang++", "c++"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// emulator runs the functions of one Program on the CPU.
type emulator struct {
	prog *Program
	bin  string
}

// newEmulator builds (or finds in the cache) the driver for prog. It
// skips the test when no C++ compiler is installed.
func newEmulator(t testing.TB, prog *Program) *emulator {
	t.Helper()
	cxx := findCXX()
	if cxx == "" {
		t.Skip("no C++ compiler (g++ or clang++): cannot execute the kernels on the CPU")
	}
	header, err := os.ReadFile("testdata/emulation/cuda_emulation.h")
	if err != nil {
		t.Fatal(err)
	}
	driver, err := os.ReadFile("testdata/emulation/driver.cc")
	if err != nil {
		t.Fatal(err)
	}
	var list strings.Builder
	for _, k := range prog.Table.Kernels {
		fmt.Fprintf(&list, "SSMC_KERNEL(%s)\n", k.Name)
	}
	main := "#include \"cuda_emulation.h\"\n#include \"kernels.cu\"\n#include \"driver.cc\"\n"
	h := sha256.New()
	for _, part := range []string{cxx, strings.Join(emulationFlags, " "), string(header), string(driver), prog.Source, list.String(), main} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]
	cache := filepath.Join(os.TempDir(), "ssmc-cuda-emulation")
	bin := filepath.Join(cache, key)
	if _, err := os.Stat(bin); err == nil {
		return &emulator{prog: prog, bin: bin}
	}
	dir := t.TempDir()
	files := map[string]string{"cuda_emulation.h": string(header), "driver.cc": string(driver),
		"kernels.cu": prog.Source, "kernel_list.h": list.String(), "main.cc": main}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "driver")
	args := append(append([]string(nil), emulationFlags...), "-o", tmp, filepath.Join(dir, "main.cc"))
	start := time.Now()
	if out, err := exec.Command(cxx, args...).CombinedOutput(); err != nil {
		t.Fatalf("compiling the kernels as C++ (%s %s): %v\n%s", cxx, strings.Join(args, " "), err, out)
	}
	t.Logf("compiled %d kernels for the CPU in %v", len(prog.Table.Kernels), time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	return &emulator{prog: prog, bin: bin}
}

// garbageByte fills temporary buffers before a run, so that a kernel that
// reads memory no launch wrote sees NaN-like values instead of zeros.
const garbageByte = 0x7f

// run executes function name of the program on inputs (in argument order)
// with the weights bound by name, and returns the results.
func (e *emulator) run(name string, weights map[string]*ir.Tensor, inputs []*ir.Tensor) ([]*ir.Tensor, error) {
	var fn *Function
	for i := range e.prog.Table.Functions {
		if e.prog.Table.Functions[i].Name == name {
			fn = &e.prog.Table.Functions[i]
		}
	}
	if fn == nil {
		return nil, fmt.Errorf("no function %s", name)
	}
	if len(inputs) != len(fn.Args) {
		return nil, fmt.Errorf("%s takes %d inputs, got %d", name, len(fn.Args), len(inputs))
	}
	env := map[string]int64{}
	for i, a := range fn.Args {
		if inputs[i].DType.String() != a.DType {
			return nil, fmt.Errorf("input %s is %v, want %s", a.Name, inputs[i].DType, a.DType)
		}
		if err := ir.BindShape(a.Shape, inputs[i].Shape, env); err != nil {
			return nil, fmt.Errorf("input %s: %v", a.Name, err)
		}
	}
	argData := map[int][]byte{}
	for i, a := range fn.Args {
		argData[a.Buffer] = inputs[i].Data
	}
	var plan bytes.Buffer
	plan.WriteString("SSMCEMU1")
	put := func(v any) { binary.Write(&plan, binary.LittleEndian, v) }
	sizes := make([]int64, len(fn.Buffers))
	offsets := make([]int64, len(fn.Buffers)) // of each buffer in the driver's output
	put(uint32(len(fn.Buffers)))
	for i, b := range fn.Buffers {
		dt, _ := ir.ParseDType(b.DType)
		n, err := b.Elements.Eval(env)
		if err != nil {
			return nil, fmt.Errorf("buffer %s: %v", b.Name, err)
		}
		sizes[i] = n * int64(dt.Size())
		if i > 0 {
			offsets[i] = offsets[i-1] + sizes[i-1]
		}
		data := make([]byte, sizes[i])
		var src []byte
		switch b.Kind {
		case BufferArg:
			src = argData[i]
		case BufferWeight:
			if w := weights[b.Weight]; w != nil {
				src = w.Data
			}
		case BufferConst:
			src = b.Data
		case BufferTemp:
			for j := range data {
				data[j] = garbageByte
			}
			src = data
		}
		if len(src) != len(data) {
			return nil, fmt.Errorf("%s buffer %s has %d bytes, want %d", b.Kind, b.Name, len(src), len(data))
		}
		put(uint64(len(data)))
		plan.Write(src)
	}
	var launches bytes.Buffer
	count := 0
	for i := range fn.Launches {
		l := &fn.Launches[i]
		grid, err := l.GridSize(env)
		if err != nil {
			return nil, fmt.Errorf("launch %d (%s): %v", i, l.Value, err)
		}
		if grid[0]*grid[1]*grid[2] == 0 {
			continue
		}
		count++
		w := func(v any) { binary.Write(&launches, binary.LittleEndian, v) }
		w(uint32(l.Kernel))
		w(grid)
		for _, b := range l.Block {
			w(uint32(b))
		}
		w(uint32(len(l.Args)))
		for _, a := range l.Args {
			if a.Buffer != nil {
				w(uint32(0))
				w(uint64(*a.Buffer))
				continue
			}
			n, err := a.Size.Eval(env)
			if err != nil {
				return nil, fmt.Errorf("launch %d (%s): %v", i, l.Value, err)
			}
			w(uint32(1))
			w(uint64(n))
		}
	}
	put(uint32(count))
	plan.Write(launches.Bytes())

	dir, err := os.MkdirTemp("", "ssmc-emulation-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	planPath, outPath := filepath.Join(dir, "plan"), filepath.Join(dir, "out")
	if err := os.WriteFile(planPath, plan.Bytes(), 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), emulationTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, e.bin, planPath, outPath).CombinedOutput(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("the emulated kernels of %s did not finish in %v (a thread skipped a __syncthreads or shuffle?)", name, emulationTimeout)
		}
		return nil, fmt.Errorf("emulating %s: %v\n%s", name, err, out)
	}
	result, err := os.ReadFile(outPath)
	if err != nil {
		return nil, err
	}
	var results []*ir.Tensor
	for _, r := range fn.Results {
		dt, _ := ir.ParseDType(r.DType)
		shape, err := ir.EvalShape(r.Shape, env)
		if err != nil {
			return nil, err
		}
		off := offsets[r.Buffer]
		t, err := ir.NewTensor(dt, shape, bytes.Clone(result[off:off+sizes[r.Buffer]]))
		if err != nil {
			return nil, fmt.Errorf("result %s: %v", r.Name, err)
		}
		results = append(results, t)
	}
	return results, nil
}
