package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/ssmc-dev/ssmc"

	"github.com/ssmc-dev/ssmc/ir"
	"github.com/ssmc-dev/ssmc/passes"
	"github.com/ssmc-dev/ssmc/runtime/artifact"
)

// debugFlagDoc describes the -d settings (passes.ParseDebug parses them).
const debugFlagDoc = `comma-separated debug ` + "`settings`" + `:
check            verify the IR after every pass
dump=PASS|all    write the IR after PASS (or every pass) as NN-PASS.ir
dumpdir=DIR      where dumps go (default ./ssmc-dump)
rules/stats      count canonicalization rule hits (implies the report)
time             print the pass report with timings (as --report)
disable=PASS     skip a pass that is not required`

var compileCmd = &command{
	name:  "compile",
	args:  "IN -o OUT [--lora ADAPTER]... [-d=SETTINGS] [--report]",
	short: "compile a model to an artifact (.ssmc) or optimized IR",
	long: `
Compile reads the model IN, verifies it, runs the pass pipeline (see
'ssmc passes') and writes the optimized IR text to OUT. The output is
replaced atomically; -o - writes to standard output.

IN is a checkpoint folder (Hugging Face MambaForCausalLM or state-spaces
mamba_ssm: config.json and model.safetensors or a sharded index), an ONNX
model (.onnx, weights inline or as external data beside it) or an IR text
file (.ir). A checkpoint compiles to a .ssmc artifact (the IR, the weights
aligned for mapping, and metadata) that 'ssmc run' and the Go API load;
with an OUT ending in .ir, or -, the optimized IR text is written instead.
An ONNX model or IR file is written as IR text, or as a .ssmc artifact
when OUT ends in .ssmc and the module is runnable, with every weight
bound: functions @prefill and @step over the recurrent states; or one
function over a whole sequence that passes the stacked states through
(input_ids [b, l] and the states in, logits [b, l, V] and the new states
out, as ONNX's opset-27 export with CausalConvWithState and
LinearAttention has it), which becomes @prefill and, fixed to one token,
@step; or one decoding-step function (an ONNX decode graph: input_ids
[b, 1] and the states in, logits [b, V] and the new states out), which
becomes a step-only model that prefills by stepping through the prompt.
An ONNX graph of one forward pass without states is refused (its
optimized IR can still be written).

--target cuda also generates CUDA kernels for the model (see package
codegen/cuda) and stores them in the artifact, sections "kernels.cu" and
"kernels.launch", for the GPU backend; it needs a checkpoint and a .ssmc
OUT.

--lora applies a PEFT LoRA adapter folder (adapter_config.json and
adapter_model.safetensors); repeat it to stack adapters. An adapter key or
target module that matches nothing is an error unless --allow-unmatched.

Problems in IN are reported as file:line:col: message lines.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		out := fs.String("o", "", "write the optimized IR to `OUT` (- for standard output)")
		debug := fs.String("d", "", debugFlagDoc)
		showReport := fs.Bool("report", false, "print the pass report (ops before/after, time, events) to stderr")
		loraMode := fs.String("lora-mode", "fused", "`fused` keeps adapters as LoRAMatMul; merge folds W + s·B·A into the weights")
		dtype := fs.String("dtype", "", "precision policy `f32|bf16|f16`: projection weights (and bf16 activations) narrowed; A, D, Δ-bias, the scan state, norms and the residual stay f32")
		var ck checkpointOptions
		fs.Var(&ck.lora, "lora", "apply the PEFT LoRA adapter in `DIR` (repeatable)")
		fs.BoolVar(&ck.allowUnmatched, "allow-unmatched", false, "warn instead of failing on adapter keys or targets that match no weight")
		fs.BoolVar(&ck.decomposed, "decomposed", false, "import the checkpoint as plain ops (the fusion passes' input); needs --seq-len")
		fs.IntVar(&ck.seqLen, "seq-len", 0, "fix the prefill length `L` (0: any length)")
		fs.StringVar(&ck.target, "target", "cpu", "`cpu` or cuda: cuda also stores generated CUDA kernels in the artifact")
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("compile takes one input, got %d", len(args))
			}
			if *out == "" {
				return usagef("missing -o OUT")
			}
			opts, err := passes.ParseDebug(*debug)
			if err != nil {
				return usagef("%v", err)
			}
			switch *loraMode {
			case "fused", "merge":
				opts.LoRAMode = *loraMode
			default:
				return usagef("-lora-mode %q: want fused or merge", *loraMode)
			}
			switch *dtype {
			case "", "f32", "bf16", "f16":
				opts.DType = *dtype
			default:
				return usagef("-dtype %q: want f32, bf16 or f16", *dtype)
			}
			switch {
			case ck.target != "cpu" && ck.target != "cuda":
				return usagef("--target %q: want cpu or cuda", ck.target)
			case ck.target == "cuda" && (!isDir(args[0]) || *out == "-" || strings.HasSuffix(*out, ".ir")):
				return usagef("--target cuda stores kernels in an artifact: compile a checkpoint folder to a .ssmc file")
			}
			if isDir(args[0]) {
				return compileCheckpoint(c, args[0], *out, ck, opts, *showReport)
			}
			if len(ck.lora) > 0 || ck.decomposed {
				return usagef("--lora and --decomposed apply to checkpoint folders only")
			}
			m, rep, err := compileFile(c, args[0], opts)
			if err != nil {
				return err
			}
			if strings.HasSuffix(*out, ".ssmc") {
				err = saveModuleArtifact(*out, args[0], m, opts.DType)
			} else {
				err = writeOutput(c, *out, []byte(ir.Print(m)))
			}
			if err != nil {
				return err
			}
			if *showReport || opts.Time || opts.RuleStats {
				fmt.Fprint(c.stderr, rep.String())
			}
			return nil
		}
	},
}

// compileFile loads and verifies the model at path and runs the pipeline
// on it. Problems in the input are printed as diagnostics (the error is
// then errReported).
func compileFile(c *ctx, path string, opts passes.Options) (*ir.Module, *passes.Report, error) {
	m, err := loadInput(path)
	if err == nil {
		err = ir.Verify(m)
	}
	if err != nil {
		if isDiagnostic(err) {
			printDiagnostics(c, path, err)
			return nil, nil, errReported
		}
		return nil, nil, err
	}
	rep, err := passes.Run(m, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("compiling %s: %w", path, err)
	}
	if err := ir.Verify(m); err != nil {
		return nil, nil, fmt.Errorf("internal error: the optimized IR of %s does not verify: %w", path, err)
	}
	return m, rep, nil
}

// compileCheckpoint imports a checkpoint folder (with its adapters), runs
// the pipeline and writes an artifact, or IR text for OUT *.ir or -.
func compileCheckpoint(c *ctx, dir, out string, ck checkpointOptions, opts passes.Options, showReport bool) error {
	lc, err := loadCheckpoint(dir, ck)
	if err != nil {
		return err
	}
	defer lc.model.Close()
	for _, w := range lc.warnings {
		fmt.Fprintf(c.stderr, "ssmc: warning: %s\n", w)
	}
	m := lc.model.Module
	rep, err := passes.Run(m, opts)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", dir, err)
	}
	if err := ir.Verify(m); err != nil {
		return fmt.Errorf("internal error: the optimized IR of %s does not verify: %w", dir, err)
	}
	if showReport || opts.Time || opts.RuleStats {
		fmt.Fprint(c.stderr, rep.String())
		if mr, err := ssmc.PlanMemory(m, 512); err == nil {
			fmt.Fprintln(c.stderr, mr)
		}
	}
	if out == "-" || strings.HasSuffix(out, ".ir") {
		return writeOutput(c, out, []byte(ir.Print(m)))
	}
	var kernels []artifact.Section
	if ck.target == "cuda" {
		if kernels, err = cudaSections(m); err != nil {
			return fmt.Errorf("compiling %s for CUDA: %w", dir, err)
		}
	}
	return saveArtifact(out, dir, lc, m, opts.DType, kernels...)
}
