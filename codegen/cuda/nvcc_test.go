package cuda

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ssmc-dev/ssmc/ir"
)

// The nvcc check: every generated kernel must compile for the GPUs ssmc
// targets, and ptxas's resource report (-Xptxas -v) is checked: registers
// per thread and spills are logged, and the scan kernels must not spill.
// Without nvcc the test skips, unless SSMC_REQUIRE_NVCC=1 (CI sets it
// after scripts/install-cuda.sh), when it fails.

// nvccArchs are the GPU architectures the kernels are compiled for.
var nvccArchs = []string{"sm_80", "sm_90"}

// nvccHost is the host compiler nvcc is run with (Debian's CUDA toolkit
// supports clang-14 as its host compiler).
const nvccHost = "clang-14"

// ptxasStats is ptxas's report on one kernel for one architecture.
type ptxasStats struct {
	Registers   int
	SpillStores int
	SpillLoads  int
	StackFrame  int
	SharedBytes int
}

var (
	ptxasEntry = regexp.MustCompile(`Compiling entry function '(\w+)' for '(\w+)'`)
	ptxasFrame = regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	ptxasUsed  = regexp.MustCompile(`Used (\d+) registers(?:, (\d+) bytes smem)?`)
)

// parsePtxas reads ptxas -v output into stats per "kernel/arch". Each
// entry function's report follows its "Compiling entry function" line.
func parsePtxas(log string) (map[string]ptxasStats, error) {
	out := map[string]ptxasStats{}
	key := ""
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if m := ptxasEntry.FindStringSubmatch(line); m != nil {
			key = m[1] + "/" + m[2]
			out[key] = ptxasStats{Registers: -1}
			continue
		}
		if key == "" {
			continue
		}
		s := out[key]
		if m := ptxasFrame.FindStringSubmatch(line); m != nil {
			s.StackFrame, _ = strconv.Atoi(m[1])
			s.SpillStores, _ = strconv.Atoi(m[2])
			s.SpillLoads, _ = strconv.Atoi(m[3])
		}
		if m := ptxasUsed.FindStringSubmatch(line); m != nil {
			s.Registers, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				s.SharedBytes, _ = strconv.Atoi(m[2])
			}
		}
		out[key] = s
	}
	for k, s := range out {
		if s.Registers < 0 {
			return nil, fmt.Errorf("ptxas reported no register count for %s", k)
		}
	}
	return out, sc.Err()
}

func TestParsePtxas(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want map[string]ptxasStats
		bad  bool
	}{
		{name: "two archs", log: `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'scan_0' for 'sm_80'
ptxas info    : Function properties for scan_0
    8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 96 registers, 20480 bytes smem, 400 bytes cmem[0]
ptxas info    : Compiling entry function 'scan_0' for 'sm_90'
ptxas info    : Function properties for scan_0
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 90 registers
`, want: map[string]ptxasStats{
			"scan_0/sm_80": {Registers: 96, SpillStores: 4, SpillLoads: 12, StackFrame: 8, SharedBytes: 20480},
			"scan_0/sm_90": {Registers: 90},
		}},
		{name: "no register line", log: "ptxas info    : Compiling entry function 'k' for 'sm_80'\n", bad: true},
		{name: "empty", log: "", want: map[string]ptxasStats{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePtxas(tt.log)
			if tt.bad {
				if err == nil {
					t.Fatalf("parsePtxas succeeded: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("%s: got %+v, want %+v", k, got[k], w)
				}
			}
		})
	}
}

// findNvcc returns nvcc and its host compiler, skipping (or failing under
// SSMC_REQUIRE_NVCC=1) when either is missing.
func findNvcc(t *testing.T) (nvcc, host string) {
	t.Helper()
	nvcc, err1 := exec.LookPath("nvcc")
	host, err2 := exec.LookPath(nvccHost)
	if err1 == nil && err2 == nil {
		return nvcc, host
	}
	msg := "nvcc and " + nvccHost + " are needed to compile the kernels for the GPU (run scripts/install-cuda.sh)"
	if os.Getenv("SSMC_REQUIRE_NVCC") == "1" {
		t.Fatal(msg + "; SSMC_REQUIRE_NVCC=1")
	}
	t.Skip(msg)
	return "", ""
}

// compileNvcc compiles source for every arch in nvccArchs and returns
// ptxas's report. Reports are cached under the temp dir by a hash of the
// compiler, its flags and the source.
func compileNvcc(t *testing.T, nvcc, host, name, source string) string {
	t.Helper()
	args := []string{"-ccbin", host, "-c", "-Xptxas", "-v", "-std=c++17"}
	for _, a := range nvccArchs {
		num := strings.TrimPrefix(a, "sm_")
		args = append(args, "-gencode", fmt.Sprintf("arch=compute_%s,code=%s", num, a))
	}
	version, err := exec.Command(nvcc, "--version").Output()
	if err != nil {
		t.Fatalf("nvcc --version: %v", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s", version, host, strings.Join(args, " "), source)
	cache := filepath.Join(os.TempDir(), "ssmc-cuda-ptxas", hex.EncodeToString(h.Sum(nil))[:24])
	if log, err := os.ReadFile(cache); err == nil {
		return string(log)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, name+".cu")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, "-o", filepath.Join(dir, name+".o"), src)
	start := time.Now()
	out, err := exec.Command(nvcc, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nvcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("nvcc compiled %s for %v in %v", name, nvccArchs, time.Since(start).Round(time.Millisecond))
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
		os.WriteFile(cache, out, 0o644)
	}
	return string(out)
}

// nvccProgram is a translation unit the nvcc check compiles.
type nvccProgram struct {
	name string
	prog func(t *testing.T) *Program
}

// nvccPrograms are the emulation cases, a Mamba-130m-shaped model (the
// default configuration: N = 16) and every golden file.
func nvccPrograms(t *testing.T) []nvccProgram {
	programs := []nvccProgram{
		{"cases", func(t *testing.T) *Program { return emulationProgram(t) }},
		{"mamba130m", func(t *testing.T) *Program {
			p, err := Generate(mamba130m(t))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	for _, file := range files {
		programs = append(programs, nvccProgram{"golden_" + strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) *Program {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range ar.Files {
				if f.Name == "in.ir" {
					m, err := ir.Parse(file, string(f.Data))
					if err != nil {
						t.Fatal(err)
					}
					p, err := Generate(m)
					if err != nil {
						t.Fatal(err)
					}
					return p
				}
			}
			t.Fatal("no in.ir section")
			return nil
		}})
	}
	return programs
}

// TestNvcc compiles every generated kernel with nvcc for each arch of
// nvccArchs and checks ptxas's report: registers and spills are logged,
// the scan kernels (SelectiveScan, SelectiveStateUpdate) must not spill,
// and the shared memory must be what the launch table says.
func TestNvcc(t *testing.T) {
	nvcc, host := findNvcc(t)
	programs := nvccPrograms(t)
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			prog := p.prog(t)
			stats, err := parsePtxas(compileNvcc(t, nvcc, host, p.name, prog.Source))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range prog.Table.Kernels {
				for _, arch := range nvccArchs {
					s, ok := stats[k.Name+"/"+arch]
					if !ok {
						t.Errorf("ptxas did not report %s for %s", k.Name, arch)
						continue
					}
					t.Logf("%-28s %-22s %s: %3d registers, %5d bytes smem, spills %d/%d bytes (stores/loads), stack %d",
						k.Name, k.Op, arch, s.Registers, s.SharedBytes, s.SpillStores, s.SpillLoads, s.StackFrame)
					if s.Registers*k.Threads > 64<<10 {
						t.Errorf("%s on %s: %d registers x %d threads exceed a multiprocessor's 64K registers", k.Name, arch, s.Registers, k.Threads)
					}
					if s.SharedBytes != k.SharedBytes {
						t.Errorf("%s on %s: ptxas reports %d bytes of shared memory, the launch table %d", k.Name, arch, s.SharedBytes, k.SharedBytes)
					}
					scan := k.Op == "SelectiveScan" || k.Op == "SelectiveStateUpdate"
					if scan && (s.SpillStores > 0 || s.SpillLoads > 0) {
						t.Errorf("%s on %s spills %d/%d bytes (stores/loads); the scan kernels must not spill", k.Name, arch, s.SpillStores, s.SpillLoads)
					}
				}
			}
		})
	}
}
