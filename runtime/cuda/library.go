package cuda

import (
	"errors"
	"strings"
)

// library is a shared library opened with dlopen at run time.
type library struct {
	name   string
	handle uintptr
}

// binding is a Go function variable and the symbols, in order of
// preference (versioned names first), that may implement it.
type binding struct {
	fn      any
	symbols []string
}

// errUnavailable wraps every error that means "no usable GPU here".
var errUnavailable = errors.New("CUDA is not available")

// cString returns the NUL-terminated bytes of s.
func cString(s string) []byte { return append([]byte(s), 0) }

// goString copies a NUL-terminated C string out of b.
func goString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
