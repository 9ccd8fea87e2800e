package cli

import (
	"flag"
	"io"

	"github.com/ssmc-dev/ssmc/ir"
)

var fmtCmd = &command{
	name:  "fmt",
	args:  "[-w] FILE...",
	short: "print IR files in canonical form",
	long: `
Fmt parses each IR text FILE and prints it in canonical form: values
renumbered densely in order, attributes sorted, one value per line. With
-w it rewrites each file that is not canonical in place (atomically)
instead of printing it.

Fmt checks syntax only; use 'ssmc verify' to check types. The IR keeps no
comments, so fmt drops // comments.

Syntax errors are reported as file:line:col: message lines; fmt goes on
with the next file and exits with status 1.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		write := fs.Bool("w", false, "rewrite the files in place instead of printing them")
		return func(c *ctx, args []string) error {
			if len(args) == 0 {
				return usagef("fmt needs at least one file")
			}
			failed := false
			for _, path := range args {
				if err := fmtFile(c, path, *write); err != nil {
					printDiagnostics(c, path, err)
					failed = true
				}
			}
			if failed {
				return errReported
			}
			return nil
		}
	},
}

// fmtFile prints the canonical form of the IR file at path, or rewrites
// the file with it.
func fmtFile(c *ctx, path string, write bool) error {
	src, err := readIRText(path)
	if err != nil {
		return err
	}
	m, err := ir.Parse(path, src)
	if err != nil {
		return err
	}
	out := ir.Print(m)
	if !write {
		_, err := io.WriteString(c.stdout, out)
		return err
	}
	if out == src {
		return nil
	}
	return writeFileAtomic(path, []byte(out), 0o644)
}
