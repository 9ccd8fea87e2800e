// Command ssmc is the ssmc compiler driver: it compiles models to optimized
// IR, formats and verifies IR files, documents the op table and the pass
// pipeline, and runs a demo. The commands live in package cli; run
// `ssmc help` for the list.
package main

import (
	"os"

	"github.com/ssmc-dev/ssmc/cmd/ssmc/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
