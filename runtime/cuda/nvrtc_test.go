package cuda

import (
	"os"
	"strings"
	"testing"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
	"github.com/ssmc-dev/ssmc/codegen/cuda/cudatest"
)

// nvrtcForTest returns the NVRTC binding, skipping the test where libnvrtc
// is not installed (failing under SSMC_REQUIRE_NVCC=1, where the CUDA
// toolkit, which ships it, must be).
func nvrtcForTest(t *testing.T) *nvrtcAPI {
	t.Helper()
	n, err := initNVRTC()
	if err != nil {
		if os.Getenv("SSMC_REQUIRE_NVCC") == "1" {
			t.Fatalf("SSMC_REQUIRE_NVCC=1 but %v", err)
		}
		t.Skip(err)
	}
	return n
}

// TestNVRTCCompile compiles the generated kernels of the conformance cases
// (for sm_80) and of a Mamba-130m-shaped model (for sm_90) through the
// binding: every kernel of the launch table must be an entry of the PTX.
// This needs libnvrtc but no GPU.
func TestNVRTCCompile(t *testing.T) {
	n := nvrtcForTest(t)
	major, minor, err := n.version()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %d.%d", major, minor)
	cases, err := cudatest.Module()
	if err != nil {
		t.Fatal(err)
	}
	model, err := cudatest.Mamba130m(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		prog  func() (*cudagen.Program, error)
		archs []int
	}{
		{"cases", func() (*cudagen.Program, error) { return cudagen.Generate(cases) }, []int{80}},
		{"mamba130m", func() (*cudagen.Program, error) { return cudagen.Generate(model) }, []int{90}},
	} {
		prog, err := tc.prog()
		if err != nil {
			t.Fatal(err)
		}
		for _, cc := range tc.archs {
			arch, err := n.arch(cc)
			if err != nil {
				t.Fatal(err)
			}
			ptx, err := n.compile(prog.Source, tc.name+".cu", arch)
			if err != nil {
				t.Fatalf("%s for sm_%d: %v", tc.name, cc, err)
			}
			text := string(ptx)
			for _, k := range prog.Table.Kernels {
				if !strings.Contains(text, ".entry "+k.Name+"(") {
					t.Errorf("%s for compute_%d: the PTX has no entry %s", tc.name, arch, k.Name)
				}
			}
			t.Logf("%s: %d kernels, %d bytes of PTX for compute_%d", tc.name, len(prog.Table.Kernels), len(ptx), arch)
		}
	}
}

// TestNVRTCErrors checks that a compilation error comes back as an error
// carrying NVRTC's log, and that arch refuses what NVRTC cannot target.
func TestNVRTCErrors(t *testing.T) {
	n := nvrtcForTest(t)
	_, err := n.compile(`extern "C" __global__ void broken() { undeclared_name = 1; }`, "broken.cu", 80)
	if err == nil || !strings.Contains(err.Error(), "undeclared_name") {
		t.Errorf("compiling broken code: got %v, want an error quoting the log", err)
	}
	if _, err := n.arch(10); err == nil {
		t.Error("arch(sm_10) succeeded")
	}
	if a, err := n.arch(999); err != nil || a < 80 {
		t.Errorf("arch(sm_999) = %d, %v; want the newest supported architecture", a, err)
	}
}
