//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package safetensors

import (
	"errors"
	"os"
)

// mapFile is unavailable on this platform; Open falls back to reading the
// whole file into memory.
func mapFile(f *os.File, size int64) ([]byte, func([]byte) error, error) {
	return nil, nil, errors.New("mmap not supported on this platform")
}
