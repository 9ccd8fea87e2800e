package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// cuResult is a CUresult, the status of a driver API call (0: success).
type cuResult int32

// driverAPI holds the CUDA driver API functions ssmc calls, bound at run
// time from libcuda. Handles (CUcontext, CUmodule, CUfunction) are
// pointers, CUdevice an int and CUdeviceptr a 64-bit address.
type driverAPI struct {
	lib                       *library
	cuInit                    func(flags uint32) cuResult
	cuDriverGetVersion        func(version *int32) cuResult
	cuDeviceGetCount          func(count *int32) cuResult
	cuDeviceGet               func(dev *int32, ordinal int32) cuResult
	cuDeviceGetName           func(name *byte, size int32, dev int32) cuResult
	cuDeviceGetAttribute      func(value *int32, attr int32, dev int32) cuResult
	cuDeviceTotalMem          func(bytes *uint64, dev int32) cuResult
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) cuResult
	cuDevicePrimaryCtxRelease func(dev int32) cuResult
	cuCtxSetCurrent           func(ctx uintptr) cuResult
	cuCtxSynchronize          func() cuResult
	cuModuleLoadData          func(module *uintptr, image *byte) cuResult
	cuModuleUnload            func(module uintptr) cuResult
	cuModuleGetFunction       func(fn *uintptr, module uintptr, name *byte) cuResult
	cuMemAlloc                func(ptr *uint64, size uint64) cuResult
	cuMemFree                 func(ptr uint64) cuResult
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, size uint64) cuResult
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, size uint64) cuResult
	cuMemcpyDtoD              func(dst, src uint64, size uint64) cuResult
	cuMemsetD8                func(dst uint64, value uint8, count uint64) cuResult
	cuLaunchKernel            func(fn uintptr, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes uint32,
		stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) cuResult
	cuGetErrorName   func(res cuResult, name **byte) cuResult
	cuGetErrorString func(res cuResult, text **byte) cuResult
}

// driverLibraries are the names libcuda goes by: the versioned name the
// driver installs, and the development symlink.
var driverLibraries = []string{"libcuda.so.1", "libcuda.so"}

// loadDriver opens libcuda from names and binds every function; symbols
// with a _v2 form are bound to it (the 64-bit-size entry points).
func loadDriver(names ...string) (*driverAPI, error) {
	lib, err := openLibrary(names...)
	if err != nil {
		return nil, err
	}
	d := &driverAPI{lib: lib}
	err = lib.bind([]binding{
		{&d.cuInit, []string{"cuInit"}},
		{&d.cuDriverGetVersion, []string{"cuDriverGetVersion"}},
		{&d.cuDeviceGetCount, []string{"cuDeviceGetCount"}},
		{&d.cuDeviceGet, []string{"cuDeviceGet"}},
		{&d.cuDeviceGetName, []string{"cuDeviceGetName"}},
		{&d.cuDeviceGetAttribute, []string{"cuDeviceGetAttribute"}},
		{&d.cuDeviceTotalMem, []string{"cuDeviceTotalMem_v2"}},
		{&d.cuDevicePrimaryCtxRetain, []string{"cuDevicePrimaryCtxRetain"}},
		{&d.cuDevicePrimaryCtxRelease, []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
		{&d.cuCtxSetCurrent, []string{"cuCtxSetCurrent"}},
		{&d.cuCtxSynchronize, []string{"cuCtxSynchronize"}},
		{&d.cuModuleLoadData, []string{"cuModuleLoadData"}},
		{&d.cuModuleUnload, []string{"cuModuleUnload"}},
		{&d.cuModuleGetFunction, []string{"cuModuleGetFunction"}},
		{&d.cuMemAlloc, []string{"cuMemAlloc_v2"}},
		{&d.cuMemFree, []string{"cuMemFree_v2"}},
		{&d.cuMemcpyHtoD, []string{"cuMemcpyHtoD_v2"}},
		{&d.cuMemcpyDtoH, []string{"cuMemcpyDtoH_v2"}},
		{&d.cuMemcpyDtoD, []string{"cuMemcpyDtoD_v2"}},
		{&d.cuMemsetD8, []string{"cuMemsetD8_v2"}},
		{&d.cuLaunchKernel, []string{"cuLaunchKernel"}},
		{&d.cuGetErrorName, []string{"cuGetErrorName"}},
		{&d.cuGetErrorString, []string{"cuGetErrorString"}},
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// check turns a CUresult into an error naming the call.
func (d *driverAPI) check(call string, res cuResult) error {
	if res == 0 {
		return nil
	}
	var name, text *byte
	d.cuGetErrorName(res, &name)
	d.cuGetErrorString(res, &text)
	return fmt.Errorf("cuda: %s: %s (%d): %s", call, cStringAt(name), res, cStringAt(text))
}

// cStringAt copies the NUL-terminated string the driver returned a
// pointer to (at most 1 KiB of it).
func cStringAt(p *byte) string {
	if p == nil {
		return "?"
	}
	var b []byte
	for i := 0; i < 1024; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// The driver's device attributes this package reads.
const (
	attrMultiprocessors = 16
	attrMemoryClockKHz  = 36
	attrMemoryBusWidth  = 37
	attrComputeCapMajor = 75
	attrComputeCapMinor = 76
)

var (
	driverOnce sync.Once
	driver     *driverAPI
	driverErr  error
)

// initDriver loads libcuda and calls cuInit once per process.
func initDriver() (*driverAPI, error) {
	driverOnce.Do(func() {
		d, err := loadDriver(driverLibraries...)
		if err != nil {
			driverErr = fmt.Errorf("%w: %v", errUnavailable, err)
			return
		}
		if err := d.check("cuInit", d.cuInit(0)); err != nil {
			driverErr = fmt.Errorf("%w: %v", errUnavailable, err)
			return
		}
		driver = d
	})
	return driver, driverErr
}

// Available reports whether this process can run models on a GPU: libcuda
// loads, cuInit succeeds, there is a device and NVRTC (which compiles the
// kernels) loads. When it cannot, the string says why; when it can, it
// describes device 0. Available loads the libraries at most once and never
// crashes or exits the process on machines without them.
func Available() (bool, string) {
	d, err := initDriver()
	if err != nil {
		return false, err.Error()
	}
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return false, err.Error()
	}
	if n == 0 {
		return false, "cuda: no CUDA device"
	}
	if _, err := initNVRTC(); err != nil {
		return false, err.Error()
	}
	dev, err := OpenDevice(0)
	if err != nil {
		return false, err.Error()
	}
	defer dev.Close()
	return true, dev.String()
}

// Device is an opened GPU: its primary context, retained, and what the
// runtime needs to know about it. Its methods may be called from any
// goroutine; calls into the driver are serialized.
type Device struct {
	api     *driverAPI
	ordinal int32
	ctx     uintptr
	mu      sync.Mutex

	Name            string
	Major, Minor    int   // compute capability
	Multiprocessors int   // streaming multiprocessors
	Memory          int64 // bytes of device memory
	// PeakBandwidth is the memory bandwidth, bytes/s, from the memory
	// clock and bus width (double data rate).
	PeakBandwidth float64
}

// OpenDevice opens the GPU with the given ordinal.
func OpenDevice(ordinal int) (*Device, error) {
	d, err := initDriver()
	if err != nil {
		return nil, err
	}
	dev := &Device{api: d}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev.ordinal, int32(ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), dev.ordinal)); err != nil {
		return nil, err
	}
	dev.Name = goString(name)
	attrs := map[int32]*int32{}
	var major, minor, sms, clock, bus int32
	attrs[attrComputeCapMajor], attrs[attrComputeCapMinor] = &major, &minor
	attrs[attrMultiprocessors], attrs[attrMemoryClockKHz], attrs[attrMemoryBusWidth] = &sms, &clock, &bus
	for a, p := range attrs {
		if err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(p, a, dev.ordinal)); err != nil {
			return nil, err
		}
	}
	dev.Major, dev.Minor, dev.Multiprocessors = int(major), int(minor), int(sms)
	dev.PeakBandwidth = 2 * float64(clock) * 1e3 * float64(bus) / 8
	var mem uint64
	if err := d.check("cuDeviceTotalMem", d.cuDeviceTotalMem(&mem, dev.ordinal)); err != nil {
		return nil, err
	}
	dev.Memory = int64(mem)
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&dev.ctx, dev.ordinal)); err != nil {
		return nil, err
	}
	return dev, nil
}

// String describes the device.
func (dev *Device) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.1f GiB, %.0f GB/s peak)", dev.Name, dev.Major, dev.Minor,
		dev.Multiprocessors, float64(dev.Memory)/(1<<30), dev.PeakBandwidth/1e9)
}

// do runs f with the device's context current on a locked OS thread (the
// driver keeps the current context per thread), one call at a time.
func (dev *Device) do(f func(api *driverAPI) error) error {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if dev.ctx == 0 {
		return fmt.Errorf("cuda: device %s is closed", dev.Name)
	}
	if err := dev.api.check("cuCtxSetCurrent", dev.api.cuCtxSetCurrent(dev.ctx)); err != nil {
		return err
	}
	return f(dev.api)
}

// Close releases the device's primary context.
func (dev *Device) Close() error {
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if dev.ctx == 0 {
		return nil
	}
	dev.ctx = 0
	return dev.api.check("cuDevicePrimaryCtxRelease", dev.api.cuDevicePrimaryCtxRelease(dev.ordinal))
}
