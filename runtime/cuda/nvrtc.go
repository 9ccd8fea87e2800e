package cuda

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"unsafe"
)

// nvrtcAPI holds the NVRTC functions ssmc calls, bound at run time from
// libnvrtc. An nvrtcProgram is a pointer; results are nvrtcResult (0:
// success).
type nvrtcAPI struct {
	lib                       *library
	nvrtcVersion              func(major, minor *int32) int32
	nvrtcCreateProgram        func(prog *uintptr, src *byte, name *byte, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	nvrtcCompileProgram       func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	nvrtcGetPTXSize           func(prog uintptr, size *uint64) int32
	nvrtcGetPTX               func(prog uintptr, ptx *byte) int32
	nvrtcGetProgramLogSize    func(prog uintptr, size *uint64) int32
	nvrtcGetProgramLog        func(prog uintptr, log *byte) int32
	nvrtcDestroyProgram       func(prog *uintptr) int32
	nvrtcGetErrorString       func(res int32) string
	nvrtcGetNumSupportedArchs func(n *int32) int32
	nvrtcGetSupportedArchs    func(archs *int32) int32
}

// nvrtcLibraries are the names libnvrtc goes by: the development symlink,
// then the sonames of CUDA 12 and 11 (11.2 and later keep one soname per
// major version).
var nvrtcLibraries = []string{"libnvrtc.so", "libnvrtc.so.12", "libnvrtc.so.11.2"}

// loadNVRTC opens libnvrtc from names and binds every function.
func loadNVRTC(names ...string) (*nvrtcAPI, error) {
	lib, err := openLibrary(names...)
	if err != nil {
		return nil, err
	}
	n := &nvrtcAPI{lib: lib}
	err = lib.bind([]binding{
		{&n.nvrtcVersion, []string{"nvrtcVersion"}},
		{&n.nvrtcCreateProgram, []string{"nvrtcCreateProgram"}},
		{&n.nvrtcCompileProgram, []string{"nvrtcCompileProgram"}},
		{&n.nvrtcGetPTXSize, []string{"nvrtcGetPTXSize"}},
		{&n.nvrtcGetPTX, []string{"nvrtcGetPTX"}},
		{&n.nvrtcGetProgramLogSize, []string{"nvrtcGetProgramLogSize"}},
		{&n.nvrtcGetProgramLog, []string{"nvrtcGetProgramLog"}},
		{&n.nvrtcDestroyProgram, []string{"nvrtcDestroyProgram"}},
		{&n.nvrtcGetErrorString, []string{"nvrtcGetErrorString"}},
		{&n.nvrtcGetNumSupportedArchs, []string{"nvrtcGetNumSupportedArchs"}},
		{&n.nvrtcGetSupportedArchs, []string{"nvrtcGetSupportedArchs"}},
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

var (
	nvrtcOnce sync.Once
	nvrtc     *nvrtcAPI
	nvrtcErr  error
)

// initNVRTC loads libnvrtc once per process.
func initNVRTC() (*nvrtcAPI, error) {
	nvrtcOnce.Do(func() {
		nvrtc, nvrtcErr = loadNVRTC(nvrtcLibraries...)
		if nvrtcErr != nil {
			nvrtcErr = fmt.Errorf("%w: NVRTC: %v", errUnavailable, nvrtcErr)
		}
	})
	return nvrtc, nvrtcErr
}

func (n *nvrtcAPI) check(call string, res int32) error {
	if res == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s (%d)", call, n.nvrtcGetErrorString(res), res)
}

// version returns NVRTC's version.
func (n *nvrtcAPI) version() (major, minor int, err error) {
	var ma, mi int32
	if err := n.check("nvrtcVersion", n.nvrtcVersion(&ma, &mi)); err != nil {
		return 0, 0, err
	}
	return int(ma), int(mi), nil
}

// arch picks the virtual architecture to compile for a device of compute
// capability cc (major·10 + minor): cc itself when NVRTC supports it, else
// the newest it supports below cc (the driver JIT-compiles PTX forward).
func (n *nvrtcAPI) arch(cc int) (int, error) {
	var count int32
	if err := n.check("nvrtcGetNumSupportedArchs", n.nvrtcGetNumSupportedArchs(&count)); err != nil {
		return 0, err
	}
	if count <= 0 || count > 256 {
		return 0, fmt.Errorf("cuda: NVRTC reports %d supported architectures", count)
	}
	archs := make([]int32, count)
	if err := n.check("nvrtcGetSupportedArchs", n.nvrtcGetSupportedArchs(&archs[0])); err != nil {
		return 0, err
	}
	slices.Sort(archs)
	best := -1
	for _, a := range archs {
		if int(a) <= cc {
			best = int(a)
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("cuda: NVRTC supports %v, none at or below sm_%d", archs, cc)
	}
	return best, nil
}

// compile compiles a CUDA C++ translation unit to PTX for the virtual
// architecture compute_<arch>. On failure the error carries NVRTC's log.
func (n *nvrtcAPI) compile(source, name string, arch int) (ptx []byte, err error) {
	var prog uintptr
	src, nm := cString(source), cString(name)
	if err := n.check("nvrtcCreateProgram", n.nvrtcCreateProgram(&prog, &src[0], &nm[0], 0, nil, nil)); err != nil {
		return nil, err
	}
	defer n.nvrtcDestroyProgram(&prog)
	opts := [][]byte{cString(fmt.Sprintf("--gpu-architecture=compute_%d", arch)), cString("--std=c++17")}
	ptrs := make([]*byte, len(opts))
	var pin runtime.Pinner
	defer pin.Unpin()
	for i, o := range opts {
		pin.Pin(&o[0])
		ptrs[i] = &o[0]
	}
	res := n.nvrtcCompileProgram(prog, int32(len(ptrs)), unsafe.Pointer(&ptrs[0]))
	if res != 0 {
		return nil, fmt.Errorf("%v\n%s", n.check("nvrtcCompileProgram", res), n.log(prog))
	}
	var size uint64
	if err := n.check("nvrtcGetPTXSize", n.nvrtcGetPTXSize(prog, &size)); err != nil {
		return nil, err
	}
	if size == 0 || size > 1<<30 {
		return nil, fmt.Errorf("cuda: NVRTC reports %d bytes of PTX", size)
	}
	ptx = make([]byte, size)
	if err := n.check("nvrtcGetPTX", n.nvrtcGetPTX(prog, &ptx[0])); err != nil {
		return nil, err
	}
	return ptx, nil
}

// log returns the program's compilation log.
func (n *nvrtcAPI) log(prog uintptr) string {
	var size uint64
	if n.nvrtcGetProgramLogSize(prog, &size) != 0 || size == 0 || size > 1<<24 {
		return ""
	}
	b := make([]byte, size)
	if n.nvrtcGetProgramLog(prog, &b[0]) != 0 {
		return ""
	}
	return goString(b)
}
