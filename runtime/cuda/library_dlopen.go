//go:build (darwin || freebsd || linux || netbsd) && !android

package cuda

import (
	"fmt"
	"strings"

	"github.com/ebitengine/purego"
)

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
