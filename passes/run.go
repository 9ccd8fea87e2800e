package passes

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ssmc-dev/ssmc/ir"
)

// Options control a pipeline run.
type Options struct {
	// Verify runs the verifier before the first pass and after every pass.
	Verify bool
	// DumpDir is where dumps go; DumpAfter names passes ("all" for every
	// pass) after which the module is written there as NN-pass.ir.
	DumpDir   string
	DumpAfter []string
	// Disable names passes to skip (required passes cannot be skipped).
	Disable []string
	// Only, when set, runs just these passes (in pipeline order).
	Only []string
	// RuleStats asks for canonicalization rule hit counts in the report.
	RuleStats bool
	// Time asks the caller to print the report with per-pass times.
	Time bool
	// DType is the storage and compute precision policy of the
	// mixed-precision pass: "" or "f32" keeps the model's precision,
	// "bf16" or "f16" narrows projection weights and their activations.
	DType string
	// LoRAMode is what fuse-lora does with a low-rank update: "" or
	// "fused" keeps it as a LoRAMatMul; "merge" folds it into the base
	// weight (W' = W + scale·B·A, in W's dtype) when the module has its
	// weights bound, leaving one MatMul.
	LoRAMode string
}

// PassReport is what one pass did.
type PassReport struct {
	Name      string
	OpsBefore int
	OpsAfter  int
	Time      time.Duration
	Counters  map[string]int
}

// Report is what a pipeline run did, pass by pass.
type Report struct {
	Passes []PassReport
}

// Run applies the pipeline to every function of m.
func Run(m *ir.Module, opts Options) (*Report, error) {
	return RunPasses(m, Pipeline, opts)
}

// RunPasses applies the given passes, in order, to every function of m.
func RunPasses(m *ir.Module, pipe []Pass, opts Options) (*Report, error) {
	for _, name := range append(append([]string(nil), opts.Disable...), opts.Only...) {
		p, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("unknown pass %q (see `ssmc passes`)", name)
		}
		if p.Required && contains(opts.Disable, name) {
			return nil, fmt.Errorf("pass %s is required and cannot be disabled", name)
		}
	}
	for _, name := range opts.DumpAfter {
		if _, ok := Lookup(name); !ok && name != "all" {
			return nil, fmt.Errorf("unknown pass %q in dump list", name)
		}
	}
	if opts.Verify {
		if err := ir.Verify(m); err != nil {
			return nil, fmt.Errorf("input IR: %w", err)
		}
	}
	rep := &Report{}
	for i, p := range pipe {
		if contains(opts.Disable, p.Name) || (opts.Only != nil && !contains(opts.Only, p.Name)) {
			continue
		}
		pr := PassReport{Name: p.Name, OpsBefore: countOps(m)}
		c := &Context{Module: m, Options: opts, Pass: p.Name}
		start := time.Now()
		for _, f := range m.Funcs {
			if err := runOne(c, p, f); err != nil {
				return rep, err
			}
		}
		pr.Time = time.Since(start)
		pr.OpsAfter = countOps(m)
		pr.Counters = c.Counters
		if !opts.RuleStats {
			pr.Counters = collapseRules(c.Counters)
		}
		rep.Passes = append(rep.Passes, pr)
		if opts.Verify {
			if err := ir.Verify(m); err != nil {
				return rep, fmt.Errorf("after pass %s: %w", p.Name, err)
			}
		}
		if contains(opts.DumpAfter, p.Name) || contains(opts.DumpAfter, "all") {
			if err := dump(opts.DumpDir, i, p.Name, m); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// PanicError is a panic inside a pass, turned into an error. Error names
// the pass and the function; Stack has the goroutine's stack for bug
// reports.
type PanicError struct {
	Pass, Func string
	Value      any
	Stack      []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("pass %s panicked on @%s: %v", e.Pass, e.Func, e.Value)
}

// runOne runs pass p on f, turning a panic into an error that names both.
func runOne(c *Context, p Pass, f *ir.Func) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Pass: p.Name, Func: f.Name, Value: r, Stack: debug.Stack()}
		}
	}()
	if err := p.Fn(c, f); err != nil {
		return fmt.Errorf("pass %s on @%s: %w", p.Name, f.Name, err)
	}
	return nil
}

func dump(dir string, i int, name string, m *ir.Module) error {
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%02d-%s.ir", i+1, name))
	if err := os.WriteFile(path, []byte(ir.Print(m)), 0o644); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

// countOps counts the values in every function body that compute
// something: Param, Const and Extract are bookkeeping, not ops.
func countOps(m *ir.Module) int {
	n := 0
	for _, f := range m.Funcs {
		n += CountOps(f)
	}
	return n
}

// CountOps counts the compute ops of f (not Param, Const or Extract).
func CountOps(f *ir.Func) int {
	n := 0
	for _, v := range f.Body {
		if v.Op != ir.OpParam && v.Op != ir.OpConst && v.Op != ir.OpExtract {
			n++
		}
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String renders the report as a table: one line per pass with ops before
// and after, time, and counters.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %7s %7s %10s  %s\n", "pass", "before", "after", "time", "events")
	for _, p := range r.Passes {
		var ev []string
		for _, k := range sortedKeys(p.Counters) {
			ev = append(ev, fmt.Sprintf("%s=%d", k, p.Counters[k]))
		}
		fmt.Fprintf(&b, "%-16s %7d %7d %10s  %s\n", p.Name, p.OpsBefore, p.OpsAfter,
			p.Time.Round(time.Microsecond), strings.Join(ev, " "))
	}
	return b.String()
}

// ParseDebug parses the CLI's -d flag, a comma-separated list of:
//
//	check            verify the IR after every pass
//	dump=PASS|all    write the IR after PASS (or every pass) into the dump dir
//	dumpdir=DIR      where dumps go (default ./ssmc-dump)
//	rules/stats      report canonicalization rule hits
//	time             print the pass report (with times) after compiling
//	disable=PASS     skip a pass that is not required
func ParseDebug(s string) (Options, error) {
	var o Options
	if s == "" {
		return o, nil
	}
	for _, item := range strings.Split(s, ",") {
		key, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
		switch {
		case key == "check" && !hasVal:
			o.Verify = true
		case key == "dump" && val != "":
			o.DumpAfter = append(o.DumpAfter, val)
		case key == "dumpdir" && val != "":
			o.DumpDir = val
		case key == "rules/stats" && !hasVal:
			o.RuleStats = true
		case key == "time" && !hasVal:
			o.Time = true
		case key == "disable" && val != "":
			o.Disable = append(o.Disable, val)
		default:
			return o, fmt.Errorf("unknown -d setting %q (want check, dump=PASS|all, dumpdir=DIR, rules/stats, time, disable=PASS)", item)
		}
	}
	if len(o.DumpAfter) > 0 && o.DumpDir == "" {
		o.DumpDir = "ssmc-dump"
	}
	return o, nil
}

// collapseRules sums the per-rule hit counters ("rule/<name>") into one
// "rewrites" counter; -d=rules/stats keeps them apart.
func collapseRules(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range m {
		if strings.HasPrefix(k, "rule/") {
			out["rewrites"] += n
		} else {
			out[k] += n
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
