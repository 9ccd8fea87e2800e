//go:build !((darwin || freebsd || linux || netbsd) && !android)

package cuda

import (
	"fmt"
	"runtime"
	"strings"
)

// openLibrary fails: purego loads shared libraries at run time only on
// the systems with dlopen it supports, so here CUDA is never available
// (and the package still builds, keeping the CPU backend portable).
func openLibrary(names ...string) (*library, error) {
	return nil, fmt.Errorf("cannot load %s: loading shared libraries at run time is not supported on %s", strings.Join(names, " or "), runtime.GOOS)
}

// bind is never reached: no library opens.
func (l *library) bind([]binding) error {
	return fmt.Errorf("%s: loading shared libraries at run time is not supported on %s", l.name, runtime.GOOS)
}
