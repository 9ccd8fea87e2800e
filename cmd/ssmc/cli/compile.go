package cli

import (
	"flag"
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// debugFlagDoc describes the -d settings (passes.ParseDebug parses them).
const debugFlagDoc = `comma-separated debug ` + "`settings`" + `:
check            verify the IR after every pass
dump=PASS|all    write the IR after PASS (or every pass) as NN-PASS.ir
dumpdir=DIR      where dumps go (default ./ssmc-dump)
rules/stats      count canonicalization rule hits (implies the report)
time             print the pass report with timings (as --report)
disable=PASS     skip a pass that is not required`

var compileCmd = &command{
	name:  "compile",
	args:  "IN -o OUT [-d=SETTINGS] [--report]",
	short: "compile a model to optimized IR",
	long: `
Compile reads the model IN, verifies it, runs the pass pipeline (see
'ssmc passes') and writes the optimized IR text to OUT. The output is
replaced atomically; -o - writes to standard output.

IN is an IR text file (.ir). ONNX models, safetensors checkpoints and
checkpoint directories are recognized but refused until their importers
land ("unsupported input kind").

Problems in IN are reported as file:line:col: message lines.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		out := fs.String("o", "", "write the optimized IR to `OUT` (- for standard output)")
		debug := fs.String("d", "", debugFlagDoc)
		showReport := fs.Bool("report", false, "print the pass report (ops before/after, time, events) to stderr")
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("compile takes one input, got %d", len(args))
			}
			if *out == "" {
				return usagef("missing -o OUT")
			}
			opts, err := passes.ParseDebug(*debug)
			if err != nil {
				return usagef("%v", err)
			}
			m, rep, err := compileFile(c, args[0], opts)
			if err != nil {
				return err
			}
			if err := writeOutput(c, *out, []byte(ir.Print(m))); err != nil {
				return err
			}
			if *showReport || opts.Time || opts.RuleStats {
				fmt.Fprint(c.stderr, rep.String())
			}
			return nil
		}
	},
}

// compileFile loads and verifies the model at path and runs the pipeline
// on it. Problems in the input are printed as diagnostics (the error is
// then errReported).
func compileFile(c *ctx, path string, opts passes.Options) (*ir.Module, *passes.Report, error) {
	m, err := loadInput(path)
	if err == nil {
		err = ir.Verify(m)
	}
	if err != nil {
		if isDiagnostic(err) {
			printDiagnostics(c, path, err)
			return nil, nil, errReported
		}
		return nil, nil, err
	}
	rep, err := passes.Run(m, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling %s: %w", path, err)
	}
	if err := ir.Verify(m); err != nil {
		return nil, nil, fmt.Errorf("internal error: the optimized IR of %s does not verify: %w", path, err)
	}
	return m, rep, nil
}
