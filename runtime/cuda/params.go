package cuda

import (
	"fmt"
	"unsafe"

	cudagen "github.com/ssmc-dev/ssmc/codegen/cuda"
)

// kernelParams is the argument block of one launch in the form
// cuLaunchKernel takes: kernelParams[i] is the address of argument i's
// value. Every argument of a generated kernel is 8 bytes: a device
// address (CUdeviceptr) or a size (long long).
type kernelParams struct {
	values []uint64
	ptrs   []unsafe.Pointer
}

// marshalParams evaluates the arguments of launch l: buffers become their
// device addresses (addr, per buffer), sizes are evaluated for env.
func marshalParams(l *cudagen.Launch, addr []uint64, env map[string]int64) (*kernelParams, error) {
	p := &kernelParams{values: make([]uint64, len(l.Args)), ptrs: make([]unsafe.Pointer, len(l.Args))}
	for i, a := range l.Args {
		switch {
		case a.Buffer != nil:
			if *a.Buffer < 0 || *a.Buffer >= len(addr) {
				return nil, fmt.Errorf("argument %d: buffer %d out of range", i, *a.Buffer)
			}
			p.values[i] = addr[*a.Buffer]
		case a.Size != nil:
			n, err := a.Size.Eval(env)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %v", i, err)
			}
			p.values[i] = uint64(n)
		default:
			return nil, fmt.Errorf("argument %d is neither a buffer nor a size", i)
		}
		p.ptrs[i] = unsafe.Pointer(&p.values[i])
	}
	return p, nil
}

// block returns the address of the kernelParams array (nil for a kernel
// without arguments).
func (p *kernelParams) block() unsafe.Pointer {
	if len(p.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&p.ptrs[0])
}
