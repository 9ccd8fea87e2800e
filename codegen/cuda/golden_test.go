package cuda

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ssmc-dev/ssmc/ir"
)

var update = flag.Bool("update", false, "rewrite the out.cu and launch.txt sections of the golden files")

// TestGolden generates CUDA for the in.ir section of each
// testdata/golden/*.txtar file: the translation unit must equal the
// out.cu section and the launch table, rendered by describeTable, the
// launch.txt section. `go test ./codegen/cuda -update` rewrites both.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) < 5 {
		t.Fatalf("%d golden files, want at least 5", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sections := map[string]*txtar.File{}
			for i := range ar.Files {
				sections[ar.Files[i].Name] = &ar.Files[i]
			}
			in := sections["in.ir"]
			if in == nil {
				t.Fatal("no in.ir section")
			}
			m, err := ir.Parse(file+":in.ir", string(in.Data))
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Generate(m)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"out.cu": prog.Source, "launch.txt": describeTable(prog.Table)}
			if *update {
				for _, name := range []string{"out.cu", "launch.txt"} {
					if sections[name] == nil {
						ar.Files = append(ar.Files, txtar.File{Name: name})
						sections[name] = &ar.Files[len(ar.Files)-1]
					}
					sections[name].Data = []byte(got[name])
				}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, name := range []string{"out.cu", "launch.txt"} {
				if sections[name] == nil {
					t.Errorf("no %s section (run with -update)", name)
					continue
				}
				if diff := cmp.Diff(string(sections[name].Data), got[name]); diff != "" {
					t.Errorf("%s differs (-want +got; run with -update to accept):\n%s", name, diff)
				}
			}
		})
	}
}

// describeTable renders a launch table for reading: per function its
// buffers, then each launch with its grid, block and arguments.
func describeTable(t *Table) string {
	var b strings.Builder
	for _, f := range t.Functions {
		fmt.Fprintf(&b, "func @%s\n", f.Name)
		for i, buf := range f.Buffers {
			fmt.Fprintf(&b, "  buffer %d %s: %s %s[%v] live %d..%d", i, buf.Name, buf.Kind, buf.DType, buf.Elements, buf.Def, buf.Last)
			if buf.Weight != "" {
				fmt.Fprintf(&b, " weight %q", buf.Weight)
			}
			b.WriteString("\n")
		}
		for _, a := range f.Args {
			fmt.Fprintf(&b, "  arg %s: buffer %d %s%s\n", a.Name, a.Buffer, a.DType, shapeText(a.Shape))
		}
		for _, r := range f.Results {
			fmt.Fprintf(&b, "  result %s: buffer %d %s%s\n", r.Name, r.Buffer, r.DType, shapeText(r.Shape))
		}
		for _, l := range f.Launches {
			k := t.Kernels[l.Kernel]
			var grid, args []string
			for _, e := range l.Grid {
				grid = append(grid, fmt.Sprintf("ceil(%v/%d)", e.Count, e.Per))
			}
			for _, a := range l.Args {
				if a.Buffer != nil {
					args = append(args, f.Buffers[*a.Buffer].Name)
				} else {
					args = append(args, a.Size.String())
				}
			}
			fmt.Fprintf(&b, "  launch %s for %s: grid (%s) block %v shared %d args (%s)\n",
				k.Name, l.Value, strings.Join(grid, ", "), l.Block, k.SharedBytes, strings.Join(args, ", "))
		}
	}
	return b.String()
}
