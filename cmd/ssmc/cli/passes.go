package cli

import (
	"flag"
	"fmt"
	"text/tabwriter"

	"github.com/ssmc-dev/ssmc/passes"
)

var passesCmd = &command{
	name:  "passes",
	args:  "",
	short: "list the pass pipeline",
	long: `
Passes lists the pipeline 'ssmc compile' runs, in order, one pass per line:
its name (as used by -d=dump=PASS and -d=disable=PASS), whether it is
required (required passes cannot be disabled), and what it does.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		return func(c *ctx, args []string) error {
			if len(args) > 0 {
				return usagef("passes takes no arguments")
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 8, 2, ' ', 0)
			for _, p := range passes.Pipeline {
				req := "optional"
				if p.Required {
					req = "required"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, req, p.Doc)
			}
			return tw.Flush()
		}
	},
}
