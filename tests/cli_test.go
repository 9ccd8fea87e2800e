package tests

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/ssmc-dev/ssmc/cmd/ssmc/cli"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite the cmp expectations of testdata/script/*.txtar")

// TestMain makes this test binary double as the ssmc command, so scripts
// run the real CLI in a process of its own with `exec ssmc ...`.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ssmc": func() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestCLI runs the command-line scripts in testdata/script. Besides the
// standard testscript commands they have
//
//	exitcode N COMMAND [ARGS...]
//
// which runs COMMAND like exec and checks that it exits with status N.
func TestCLI(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *updateScripts,
		Cmds:                map[string]func(ts *testscript.TestScript, neg bool, args []string){"exitcode": cmdExitCode},
	})
}

// cmdExitCode implements `exitcode N COMMAND [ARGS...]`.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N COMMAND [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad status %q", args[0])
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case err == nil:
	case errors.As(err, &ee):
		got = ee.ExitCode()
	default:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
