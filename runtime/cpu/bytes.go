package cpu

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// bytesAsF32 views little-endian f32 bytes as []float32 without copying
// when they are 4-byte aligned (always so for mapped artifact weights), and
// copies otherwise. The machines ssmc runs on are little-endian.
func bytesAsF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
