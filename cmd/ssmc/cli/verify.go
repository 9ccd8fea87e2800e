package cli

import (
	"flag"
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

var verifyCmd = &command{
	name:  "verify",
	args:  "FILE...",
	short: "check that models parse and type-check",
	long: `
Verify reads each FILE (any input kind 'ssmc compile' accepts), runs the IR
verifier on it, and prints "FILE: ok" for each valid one. Problems are
reported as file:line:col: message lines (at most ten per function), and
verify exits with status 1 if any file has one.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		return func(c *ctx, args []string) error {
			if len(args) == 0 {
				return usagef("verify needs at least one file")
			}
			failed := false
			for _, path := range args {
				m, err := loadInput(path)
				if err == nil {
					err = ir.Verify(m)
				}
				if err != nil {
					printDiagnostics(c, path, err)
					failed = true
					continue
				}
				fmt.Fprintf(c.stdout, "%s: ok\n", path)
			}
			if failed {
				return errReported
			}
			return nil
		}
	},
}
