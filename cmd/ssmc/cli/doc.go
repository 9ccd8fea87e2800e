// Package cli implements the ssmc command line: [Main] takes the arguments
// after the program name and the output streams and returns the exit status,
// so the command can be driven in-process by tests and by cmd/ssmc.
//
// Each command is one file (compile.go, fmt.go, verify.go, passes.go,
// ops.go, demo.go, help.go) holding a [command] entry of the table in
// main.go. Commands parse their own flags with the standard flag package;
// flags may come before or after the positional arguments.
//
// Exit statuses: 0 success; 1 a user error (bad input file, failed
// verification), reported on stderr as "ssmc: message", or as
// "file:line:col: message" lines for problems located in an input file; 2
// a usage error (unknown command or flag, missing arguments). A panic is
// recovered in Main and reported as an internal error with status 1; set
// SSMC_TRACEBACK=1 to see its stack.
//
// Inputs are read through a registry of importers keyed by file kind
// (load.go): today only IR text (.ir) is supported, and the other kinds
// are recognized and refused with "unsupported input kind".
package cli
