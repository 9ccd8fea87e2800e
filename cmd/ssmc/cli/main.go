package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// The exit statuses of Main.
const (
	ExitOK    = 0 // success
	ExitError = 1 // a user error or an internal error
	ExitUsage = 2 // a usage error: unknown command or flag, missing arguments
)

// command is one subcommand.
type command struct {
	name  string
	args  string // the synopsis after the command name, e.g. "[-w] FILE..."
	short string // one line for the command list
	long  string // the help text, after the synopsis
	// define declares the command's flags on fs and returns the function
	// that runs the command with the positional arguments.
	define func(fs *flag.FlagSet) func(c *ctx, args []string) error
}

// ctx is what a running command writes to.
type ctx struct {
	stdout, stderr io.Writer
	stdin          io.Reader
}

// commands returns the command table, in the order `ssmc help` lists it.
func commands() []*command {
	return []*command{
		compileCmd, inspectCmd, runCmd, benchCmd, tokenizeCmd, detokenizeCmd, demoCmd, fmtCmd, verifyCmd, passesCmd, opsCmd, helpCmd, versionCmd,
	}
}

// Main runs the ssmc command line with args (without the program name),
// writing to stdout and stderr, and returns the exit status (ExitOK,
// ExitError or ExitUsage). It never panics: a panic in a command is
// reported as an internal error.
func Main(args []string, stdout, stderr io.Writer) int {
	return run(commands(), args, os.Stdin, stdout, stderr)
}

// MainWithStdin is Main reading standard input from stdin.
func MainWithStdin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(commands(), args, stdin, stdout, stderr)
}

// run is Main over a given command table.
func run(cmds []*command, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "ssmc: internal error: %v\n", r)
			if os.Getenv("SSMC_TRACEBACK") != "" {
				stderr.Write(debug.Stack())
			} else {
				fmt.Fprintln(stderr, "ssmc: this is a bug in ssmc; rerun with SSMC_TRACEBACK=1 for details")
			}
			code = ExitError
		}
	}()
	c := &ctx{stdout: stdout, stderr: stderr, stdin: stdin}
	if len(args) == 0 {
		printUsage(stderr, cmds)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help":
		printUsage(stdout, cmds)
		return ExitOK
	case "-version", "--version":
		name = "version"
	}
	cmd := lookup(cmds, name)
	if cmd == nil {
		return report(c, usagef("unknown command %q", name))
	}
	return report(c, runCommand(c, cmds, cmd, args[1:]))
}

// lookup returns the command named name, or nil.
func lookup(cmds []*command, name string) *command {
	for _, cmd := range cmds {
		if cmd.name == name {
			return cmd
		}
	}
	return nil
}

// runCommand parses cmd's flags from args and runs it.
func runCommand(c *ctx, cmds []*command, cmd *command, args []string) error {
	fs := newFlagSet(cmd.name)
	runFn := cmd.define(fs)
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(c.stdout, cmd)
		return nil
	}
	if err != nil {
		return &usageError{cmd: cmd, msg: err.Error()}
	}
	if cmd == helpCmd {
		err = runHelp(c, cmds, pos)
	} else {
		err = runFn(c, pos)
	}
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd == nil {
		ue.cmd = cmd
	}
	return err
}

// newFlagSet returns a silent flag set: Main prints errors and usage itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("ssmc "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args with fs, allowing flags after positional
// arguments (`compile in.ir -o out.ir`); everything after "--" is
// positional. It returns the positional arguments in order.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError is a command-line mistake; Main exits with ExitUsage.
type usageError struct {
	cmd *command // nil for top-level errors
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error; runCommand attaches the running command.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errReported means the command has already written its diagnostics to
// stderr; Main only sets the exit status.
var errReported = errors.New("errors reported")

// report prints err as Main does and returns the exit status for it.
func report(c *ctx, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		if ue.cmd != nil {
			fmt.Fprintf(c.stderr, "ssmc %s: %s\n", ue.cmd.name, ue.msg)
			fmt.Fprintf(c.stderr, "usage: ssmc %s %s\nRun 'ssmc help %s' for details.\n", ue.cmd.name, ue.cmd.args, ue.cmd.name)
		} else {
			fmt.Fprintf(c.stderr, "ssmc: %s\nRun 'ssmc help' for the list of commands.\n", ue.msg)
		}
		return ExitUsage
	case errors.Is(err, errReported):
		return ExitError
	}
	fmt.Fprintf(c.stderr, "ssmc: %s\n", cleanMessage(err.Error()))
	return ExitError
}

// cleanMessage drops a goroutine stack trace that an error message carries
// (the pass runner appends one to errors from recovered panics) unless
// SSMC_TRACEBACK is set.
func cleanMessage(msg string) string {
	if os.Getenv("SSMC_TRACEBACK") != "" {
		return msg
	}
	if i := strings.Index(msg, "\ngoroutine "); i >= 0 {
		msg = msg[:i] + "\n(stack trace omitted; rerun with SSMC_TRACEBACK=1 to see it)"
	}
	// Errors from package ssmc already carry the prefix the command adds.
	msg = strings.TrimPrefix(msg, "ssmc: ")
	return strings.TrimRight(msg, "\n")
}
