package cuda

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

// library is a shared library opened with dlopen at run time.
type library struct {
	name   string
	handle uintptr
}

// openLibrary opens the first of names that dlopen finds.
func openLibrary(names ...string) (*library, error) {
	var errs []string
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return &library{name: n, handle: h}, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("cannot load %s: %s", strings.Join(names, " or "), strings.Join(errs, "; "))
}

// binding is a Go function variable and the symbols, in order of
// preference (versioned names first), that may implement it.
type binding struct {
	fn      any
	symbols []string
}

// bind points each binding's function at the first of its symbols that
// the library exports; it fails, naming the symbol, when none is found.
func (l *library) bind(bindings []binding) error {
	for _, b := range bindings {
		addr, err := l.lookup(b.symbols)
		if err != nil {
			return err
		}
		purego.RegisterFunc(b.fn, addr)
	}
	return nil
}

func (l *library) lookup(symbols []string) (uintptr, error) {
	for _, s := range symbols {
		if addr, err := purego.Dlsym(l.handle, s); err == nil && addr != 0 {
			return addr, nil
		}
	}
	return 0, fmt.Errorf("%s has no symbol %s", l.name, strings.Join(symbols, " or "))
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
