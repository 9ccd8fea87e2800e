package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/ssmc-dev/ssmc/importers/onnx"
	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

var inspectCmd = &command{
	name:  "inspect",
	args:  "[--json] [--lora ADAPTER]... CHECKPOINT_DIR|MODEL.ssmc|MODEL.onnx",
	short: "describe a checkpoint, an ONNX model or a compiled model",
	long: `
Inspect prints a checkpoint folder's or a .ssmc artifact's configuration,
parameter count, tensor table (name, dtype, shape, bytes), the adapters
applied, and a summary of the IR (functions, ops per kind). For an ONNX
model it prints the IR and opset versions, the inputs and outputs with
their shapes, the external data files, the operator histogram of the
graph (subgraphs included) and the initializers, then compiles the model
and prints which fusions fired and the compiled IR's summary. --json
prints the same as one JSON object.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		asJSON := fs.Bool("json", false, "print JSON")
		verify := fs.Bool("verify", false, "also check the checksum of the artifact's weights")
		var ck checkpointOptions
		fs.Var(&ck.lora, "lora", "apply the PEFT LoRA adapter in `DIR` (repeatable)")
		fs.BoolVar(&ck.allowUnmatched, "allow-unmatched", false, "warn instead of failing on unmatched adapter keys")
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("inspect takes one model, got %d", len(args))
			}
			info, err := inspect(args[0], ck, *verify)
			if err != nil {
				return err
			}
			if *asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			info.print(c.stdout)
			return nil
		}
	},
}

// inspection is what inspect reports.
type inspection struct {
	Path       string          `json:"path"`
	Kind       string          `json:"kind"`
	Config     json.RawMessage `json:"config,omitempty"`
	Producer   string          `json:"producer,omitempty"`
	Params     int64           `json:"parameters"`
	Bytes      int64           `json:"bytes"`
	Tensors    []tensorRow     `json:"tensors"`
	Adapters   []string        `json:"adapters"`
	Functions  []funcSummary   `json:"functions"`
	Warnings   []string        `json:"warnings,omitempty"`
	ONNX       *onnx.ModelInfo `json:"onnx,omitempty"`
	Fusions    map[string]int  `json:"fusions,omitempty"`
	StateBytes int64           `json:"state_bytes_per_seq,omitempty"`
}

type tensorRow struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	Bytes int64   `json:"bytes"`
}

type funcSummary struct {
	Name string         `json:"name"`
	Ops  map[string]int `json:"ops"`
	Sig  string         `json:"signature"`
}

func inspect(path string, ck checkpointOptions, verify bool) (*inspection, error) {
	info := &inspection{Path: path, Adapters: []string{}}
	var mod *ir.Module
	if isONNXFile(path) {
		if len(ck.lora) > 0 {
			return nil, usagef("--lora applies to checkpoint folders only")
		}
		var err error
		if info, mod, err = inspectONNX(path); err != nil {
			return nil, err
		}
	} else if isDir(path) {
		lc, err := loadCheckpoint(path, ck)
		if err != nil {
			return nil, err
		}
		defer lc.model.Close()
		info.Kind = "checkpoint"
		info.Config, _ = json.Marshal(lc.model.Config)
		info.Adapters = append(info.Adapters, lc.adapters...)
		info.Warnings = lc.warnings
		for _, t := range lc.model.Tensors {
			info.Tensors = append(info.Tensors, tensorRow{t.Name, t.DType, t.Shape, t.Bytes})
		}
		mod = lc.model.Module
	} else {
		m, err := artifact.Load(path)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		if verify {
			if err := m.File.Verify(); err != nil {
				return nil, err
			}
		}
		info.Kind = "artifact"
		info.Config = m.Meta.Config
		info.Producer = m.Meta.Producer
		info.Adapters = append(info.Adapters, m.Meta.Adapters...)
		for _, w := range m.Weights {
			info.Tensors = append(info.Tensors, tensorRow{w.Name, w.DType, w.Shape, w.Length})
		}
		for _, w := range m.Adapters { // the "adapters" section: swappable at load
			info.Tensors = append(info.Tensors, tensorRow{w.Name, w.DType, w.Shape, w.Length})
		}
		mod = m.Module
	}
	for _, t := range info.Tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		info.Params += n
		info.Bytes += t.Bytes
	}
	for _, f := range modFuncs(mod) {
		fs := funcSummary{Name: f.Name, Ops: map[string]int{}}
		for _, v := range f.Body {
			if v.Op != ir.OpParam && v.Op != ir.OpConst && v.Op != ir.OpExtract {
				fs.Ops[v.Op.String()]++
			}
		}
		head := ir.PrintFunc(f)
		for i, ch := range head {
			if ch == '{' {
				head = head[:i]
				break
			}
		}
		fs.Sig = head
		info.Functions = append(info.Functions, fs)
		if f.Name == "step" {
			for _, a := range f.Args[1:] {
				dims, err := ir.EvalShape(a.Type.Shape, map[string]int64{"B": 1})
				if err == nil {
					n := int64(a.Type.DType.Size())
					for _, d := range dims {
						n *= d
					}
					info.StateBytes += n
				}
			}
		}
	}
	return info, nil
}

func (info *inspection) print(w io.Writer) {
	fmt.Fprintf(w, "%s (%s)\n", info.Path, info.Kind)
	if info.Producer != "" {
		fmt.Fprintf(w, "producer: %s\n", info.Producer)
	}
	if info.ONNX != nil {
		info.printONNX(w)
	}
	if len(info.Config) > 0 {
		fmt.Fprintf(w, "config: %s\n", info.Config)
	}
	fmt.Fprintf(w, "parameters: %d (%d bytes in %d tensors)\n", info.Params, info.Bytes, len(info.Tensors))
	if info.StateBytes > 0 {
		fmt.Fprintf(w, "state per sequence: %d bytes\n", info.StateBytes)
	}
	if len(info.Adapters) == 0 {
		fmt.Fprintln(w, "adapters: none")
	} else {
		fmt.Fprintf(w, "adapters: %v\n", info.Adapters)
	}
	for _, warn := range info.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	fmt.Fprintln(w, "\ntensors:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\tdtype\tshape\tbytes")
	for _, t := range info.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%v\t%d\n", t.Name, t.DType, t.Shape, t.Bytes)
	}
	tw.Flush()
	for _, f := range info.Functions {
		fmt.Fprintf(w, "\n%s\n", f.Sig)
		names := make([]string, 0, len(f.Ops))
		for k := range f.Ops {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "  %-22s %d\n", k, f.Ops[k])
		}
	}
}
