package cli

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ssmc-dev/ssmc/importers/onnx"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
)

// isONNXFile reports whether path is a regular file named *.onnx.
func isONNXFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && hasExt(".onnx")(path, fi)
}

// inspectONNX describes an ONNX model: what the file declares (header,
// inputs and outputs, operator histogram, initializers, external data
// files), then imports it and runs the pass pipeline to report which
// fusions fired. It returns the compiled module, or nil with a warning
// when the model does not import or compile (the file's own description
// is still printed).
func inspectONNX(path string) (*inspection, *ir.Module, error) {
	mi, err := onnx.ReadInfo(path)
	if err != nil {
		return nil, nil, err
	}
	info := &inspection{Path: path, Kind: "onnx", Producer: mi.Producer, ONNX: mi, Adapters: []string{}}
	for _, t := range mi.Initializers {
		info.Tensors = append(info.Tensors, tensorRow{t.Name, t.DType, t.Shape, t.Bytes})
	}
	mod, err := onnx.Load(path)
	if err != nil {
		info.Warnings = append(info.Warnings, "import: "+firstLine(err.Error()))
		return info, nil, nil
	}
	rep, err := passes.Run(mod, passes.Options{})
	if err != nil {
		info.Warnings = append(info.Warnings, "compile: "+firstLine(err.Error()))
		return info, nil, nil
	}
	info.Fusions = fusionsFired(rep)
	return info, mod, nil
}

// fusionsFired sums the fusion counters (fused/…, generalized/…) of all
// passes.
func fusionsFired(rep *passes.Report) map[string]int {
	out := map[string]int{}
	for _, p := range rep.Passes {
		for k, n := range p.Counters {
			if strings.HasPrefix(k, "fused/") || strings.HasPrefix(k, "generalized/") {
				out[k] += n
			}
		}
	}
	return out
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// printONNX prints the ONNX part of an inspection.
func (info *inspection) printONNX(w io.Writer) {
	mi := info.ONNX
	var ops []string
	for _, o := range mi.Opsets {
		ops = append(ops, fmt.Sprintf("%s %d", o.Domain, o.Version))
	}
	fmt.Fprintf(w, "IR version %d, opsets: %s\n", mi.IRVersion, strings.Join(ops, ", "))
	fmt.Fprintf(w, "graph %q: %d nodes\n", mi.Graph, mi.Nodes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "inputs:")
	for _, v := range mi.Inputs {
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, v.Type)
	}
	fmt.Fprintln(tw, "outputs:")
	for _, v := range mi.Outputs {
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, v.Type)
	}
	tw.Flush()
	if len(mi.ExternalFiles) == 0 {
		fmt.Fprintln(w, "external data: none")
	} else {
		fmt.Fprintln(w, "external data:")
		for _, f := range mi.ExternalFiles {
			fmt.Fprintf(w, "  %s: %d tensors, %d bytes\n", f.Location, f.Tensors, f.Bytes)
		}
	}
	fmt.Fprintln(w, "operators (with subgraphs):")
	names := make([]string, 0, len(mi.Ops))
	for k := range mi.Ops {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %-22s %d\n", k, mi.Ops[k])
	}
	if info.Fusions != nil {
		var fired []string
		for k, n := range info.Fusions {
			fired = append(fired, fmt.Sprintf("%s=%d", k, n))
		}
		sort.Strings(fired)
		if len(fired) == 0 {
			fired = []string{"none"}
		}
		fmt.Fprintf(w, "fusions: %s\n", strings.Join(fired, " "))
	}
}

// modFuncs returns m's functions (none for a nil module: an ONNX model
// that did not compile).
func modFuncs(m *ir.Module) []*ir.Func {
	if m == nil {
		return nil
	}
	return m.Funcs
}
