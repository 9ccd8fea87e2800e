package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

// Version is ssmc's version. Release builds set it with
// -ldflags "-X github.com/ssmc-dev/ssmc/cmd/ssmc/cli.Version=v1.2.3";
// otherwise it comes from the build information, or is "devel".
var Version = ""

var helpCmd = &command{
	name:  "help",
	args:  "[COMMAND]",
	short: "show help for ssmc or one command",
	long:  "Help prints the list of commands, or the usage and flags of COMMAND.",
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		return nil // runCommand calls runHelp, which needs the command table
	},
}

// runHelp prints the general usage or one command's help.
func runHelp(c *ctx, cmds []*command, args []string) error {
	switch len(args) {
	case 0:
		printUsage(c.stdout, cmds)
		return nil
	case 1:
		cmd := lookup(cmds, args[0])
		if cmd == nil {
			return usagef("unknown command %q", args[0])
		}
		printCommandHelp(c.stdout, cmd)
		return nil
	}
	return usagef("help takes at most one command")
}

// printUsage writes the top-level usage: the command list.
func printUsage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `ssmc compiles Mamba state-space models to optimized programs.

Usage:

	ssmc COMMAND [ARGUMENTS]

Commands:

`)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, cmd := range cmds {
		fmt.Fprintf(tw, "\t%s\t%s\n", cmd.name, cmd.short)
	}
	tw.Flush()
	fmt.Fprint(w, `
Run 'ssmc help COMMAND' (or 'ssmc COMMAND -h') for a command's usage.
Start with 'ssmc demo'.
`)
}

// printCommandHelp writes one command's synopsis, description and flags.
func printCommandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: ssmc %s %s\n\n%s\n", cmd.name, cmd.args, strings.TrimSpace(cmd.long))
	fs := newFlagSet(cmd.name)
	cmd.define(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

var versionCmd = &command{
	name:  "version",
	args:  "",
	short: "print ssmc's version",
	long:  "Version prints ssmc's version, the Go version it was built with, and the platform.",
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		return func(c *ctx, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments")
			}
			fmt.Fprintf(c.stdout, "ssmc %s %s %s/%s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		}
	},
}

// version returns Version, or the main module's version from the build
// information, or "devel".
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
