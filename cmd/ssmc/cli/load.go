package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/onnx"
	"github.com/ssmc-dev/ssmc/ir"
)

// maxIRBytes bounds the size of an IR text file ssmc reads. Weights never
// live in IR text (only small inline constants do), so real files are far
// smaller.
const maxIRBytes = 256 << 20

// importer reads one kind of input into a module.
type importer struct {
	// kind names the input kind in messages.
	kind string
	// match reports whether path (with its file info) is of this kind.
	match func(path string, fi fs.FileInfo) bool
	// load reads the input; nil for kinds that are recognized but whose
	// importer has not landed yet.
	load func(path string) (*ir.Module, error)
}

// importers is the registry loadInput dispatches on, first match wins.
// Adding an input kind is one entry here and its package under importers/.
var importers = []importer{
	{kind: "IR text", match: hasExt(".ir"), load: loadIRText},
	{kind: "ONNX model", match: hasExt(".onnx"), load: onnx.Load},
	{kind: "safetensors checkpoint", match: hasExt(".safetensors")},
	{kind: "checkpoint directory", match: func(_ string, fi fs.FileInfo) bool { return fi.IsDir() }},
}

// hasExt matches regular files whose name ends in ext (any case).
func hasExt(ext string) func(string, fs.FileInfo) bool {
	return func(path string, fi fs.FileInfo) bool {
		return !fi.IsDir() && strings.EqualFold(filepath.Ext(path), ext)
	}
}

// loadInput reads the model at path with the importer for its kind.
func loadInput(path string) (*ir.Module, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	for _, imp := range importers {
		if !imp.match(path, fi) {
			continue
		}
		if imp.load == nil {
			return nil, fmt.Errorf("unsupported input kind: %s: %s (that importer has not landed yet; ssmc reads .ir files for now)", path, imp.kind)
		}
		return imp.load(path)
	}
	return nil, fmt.Errorf("unsupported input kind: %s (ssmc reads .ir files for now)", path)
}

// loadIRText parses an IR text file.
func loadIRText(path string) (*ir.Module, error) {
	src, err := readIRText(path)
	if err != nil {
		return nil, err
	}
	return ir.Parse(path, src)
}

// readIRText reads an IR text file, refusing files over maxIRBytes.
func readIRText(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIRBytes+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxIRBytes {
		return "", fmt.Errorf("%s: larger than %d MiB; IR text holds no weights, so this is not an IR file", path, maxIRBytes>>20)
	}
	return string(data), nil
}

// diagnostics flattens err (joined parse or verifier errors) into lines
// that each start with a position, "file:line:col: " when the problem has
// one and "file: " otherwise.
func diagnostics(path string, err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		for _, line := range strings.Split(strings.TrimRight(e.Error(), "\n"), "\n") {
			if !strings.HasPrefix(line, path+":") {
				line = path + ": " + line
			}
			out = append(out, line)
		}
	}
	walk(err)
	return out
}

// isDiagnostic reports whether err is about the content of an input file
// (a parse or verifier error) rather than about reaching it.
func isDiagnostic(err error) bool {
	var pe *ir.ParseError
	var ve *ir.VerifyError
	return errors.As(err, &pe) || errors.As(err, &ve)
}

// printDiagnostics writes err as diagnostics for path when it is one, and
// as an "ssmc: " message otherwise.
func printDiagnostics(c *ctx, path string, err error) {
	if isDiagnostic(err) {
		for _, line := range diagnostics(path, err) {
			fmt.Fprintln(c.stderr, line)
		}
		return
	}
	fmt.Fprintf(c.stderr, "ssmc: %s\n", cleanMessage(err.Error()))
}
