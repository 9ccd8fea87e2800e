package cuda

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ssmc-dev/ssmc/ir"
)

// TableVersion is the version of the launch table format this package
// writes and reads.
const TableVersion = 1

// Table is the launch table of a translation unit: for each function of
// the model, its tensors and the kernel launches that compute it, in
// order. It is data (JSON in the artifact's "kernels.launch" section); the
// runtime evaluates its Sizes once the symbols (batch, length) are bound.
type Table struct {
	Version   int        `json:"version"`
	Kernels   []Kernel   `json:"kernels"`
	Functions []Function `json:"functions"`
}

// Kernel is one __global__ function of the translation unit.
type Kernel struct {
	Name string `json:"name"`
	// Op is the IR op it computes ("SelectiveScan", "Copy" for data
	// movement).
	Op string `json:"op"`
	// Threads is the block size it is written for (its __launch_bounds__).
	Threads int `json:"threads"`
	// SharedBytes is the shared memory it declares statically; launches
	// pass no dynamic shared memory.
	SharedBytes int `json:"shared_bytes"`
}

// BufferKind says where a buffer's contents come from.
type BufferKind string

// The buffer kinds.
const (
	BufferArg    BufferKind = "arg"    // a function argument, copied in by the caller
	BufferWeight BufferKind = "weight" // a model weight, uploaded once
	BufferConst  BufferKind = "const"  // an inline constant (Data), uploaded once
	BufferTemp   BufferKind = "temp"   // written by a launch
)

// Buffer is one device allocation of a function. Values that only view
// another value's memory (Reshape, Extract) share its buffer.
type Buffer struct {
	// Name is the IR value it holds, for messages ("%12", "%input_ids").
	Name     string     `json:"name"`
	Kind     BufferKind `json:"kind"`
	DType    string     `json:"dtype"`
	Elements Size       `json:"elements"`
	// Weight names the weight of a BufferWeight.
	Weight string `json:"weight,omitempty"`
	// Data holds a BufferConst's bytes, little-endian.
	Data []byte `json:"data,omitempty"`
	// Def is the first launch that writes a BufferTemp and Last the last
	// launch that reads it (len(Launches) for results), so that buffers
	// whose lifetimes do not overlap can share memory.
	Def  int `json:"def"`
	Last int `json:"last"`
}

// Tensor is a function argument or result: a buffer seen with a type.
type Tensor struct {
	Name   string   `json:"name"`
	Buffer int      `json:"buffer"`
	DType  string   `json:"dtype"`
	Shape  ir.Shape `json:"shape"`
}

// Function is the launch plan of one IR function.
type Function struct {
	Name     string   `json:"name"`
	Buffers  []Buffer `json:"buffers"`
	Args     []Tensor `json:"args"`
	Results  []Tensor `json:"results"`
	Launches []Launch `json:"launches"`
}

// Launch is one kernel launch.
type Launch struct {
	Kernel int `json:"kernel"`
	// Value is the IR value it computes, for messages.
	Value string    `json:"value"`
	Grid  [3]Extent `json:"grid"`
	Block [3]int    `json:"block"`
	Args  []Arg     `json:"args"`
}

// Extent is a grid dimension: ceil(Count / Per) blocks.
type Extent struct {
	Count Size  `json:"count"`
	Per   int64 `json:"per"`
}

// Arg is one kernel argument: a buffer's device address, or a size (a
// long long).
type Arg struct {
	Buffer *int  `json:"buffer,omitempty"`
	Size   *Size `json:"size,omitempty"`
}

// Blocks returns the number of blocks of e for the bound symbols.
func (e Extent) Blocks(env map[string]int64) (int64, error) {
	n, err := e.Count.Eval(env)
	if err != nil {
		return 0, err
	}
	return (n + e.Per - 1) / e.Per, nil
}

// GridSize returns the launch's grid for the bound symbols; a dimension
// of 0 means there is nothing to compute (an empty tensor).
func (l *Launch) GridSize(env map[string]int64) ([3]uint32, error) {
	var g [3]uint32
	for i, e := range l.Grid {
		n, err := e.Blocks(env)
		if err != nil {
			return g, fmt.Errorf("grid %c: %w", "xyz"[i], err)
		}
		if n > maxGrid[i] {
			return g, fmt.Errorf("grid %c is %d blocks, more than %d", "xyz"[i], n, maxGrid[i])
		}
		g[i] = uint32(n)
	}
	return g, nil
}

// maxGrid is the largest grid CUDA launches, per dimension.
var maxGrid = [3]int64{1<<31 - 1, 65535, 65535}

// MarshalTable encodes t as JSON.
func MarshalTable(t *Table) ([]byte, error) {
	return json.MarshalIndent(t, "", " ")
}

// UnmarshalTable decodes and checks a launch table: every index in range,
// every dtype known, block sizes matching their kernels. Tables come from
// artifact files, which may be corrupt or hostile.
func UnmarshalTable(b []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Table
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("launch table: %w", err)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("launch table: %w", err)
	}
	return &t, nil
}

// Check validates the table's internal consistency.
func (t *Table) Check() error {
	if t.Version != TableVersion {
		return fmt.Errorf("version %d, this ssmc reads version %d", t.Version, TableVersion)
	}
	for i, k := range t.Kernels {
		if !isCIdent(k.Name) {
			return fmt.Errorf("kernel %d: bad name %q", i, k.Name)
		}
		if k.Threads < 1 || k.Threads > 1024 || k.SharedBytes < 0 || k.SharedBytes > 48<<10 {
			return fmt.Errorf("kernel %s: %d threads, %d bytes of shared memory", k.Name, k.Threads, k.SharedBytes)
		}
	}
	for i := range t.Functions {
		if err := t.checkFunction(&t.Functions[i]); err != nil {
			return fmt.Errorf("function %s: %w", t.Functions[i].Name, err)
		}
	}
	return nil
}

func (t *Table) checkFunction(f *Function) error {
	nb := len(f.Buffers)
	for i, b := range f.Buffers {
		dt, err := ir.ParseDType(b.DType)
		if err != nil {
			return fmt.Errorf("buffer %d: %w", i, err)
		}
		switch b.Kind {
		case BufferArg, BufferTemp:
		case BufferWeight:
			if b.Weight == "" {
				return fmt.Errorf("buffer %s: weight without a name", b.Name)
			}
		case BufferConst:
			if c, ok := polyFromSize(b.Elements).constant(); !ok || c*int64(dt.Size()) != int64(len(b.Data)) {
				return fmt.Errorf("buffer %s: constant of %v elements has %d bytes", b.Name, b.Elements, len(b.Data))
			}
		default:
			return fmt.Errorf("buffer %s: unknown kind %q", b.Name, b.Kind)
		}
		if b.Def > b.Last || b.Last > len(f.Launches) {
			return fmt.Errorf("buffer %s: lifetime [%d, %d] outside the %d launches", b.Name, b.Def, b.Last, len(f.Launches))
		}
	}
	for _, list := range [][]Tensor{f.Args, f.Results} {
		for _, tn := range list {
			if tn.Buffer < 0 || tn.Buffer >= nb {
				return fmt.Errorf("tensor %s: buffer %d out of range", tn.Name, tn.Buffer)
			}
			if _, err := ir.ParseDType(tn.DType); err != nil {
				return fmt.Errorf("tensor %s: %w", tn.Name, err)
			}
		}
	}
	for i, l := range f.Launches {
		if l.Kernel < 0 || l.Kernel >= len(t.Kernels) {
			return fmt.Errorf("launch %d: kernel %d out of range", i, l.Kernel)
		}
		k := t.Kernels[l.Kernel]
		threads := 1
		for _, b := range l.Block {
			if b < 1 || b > 1024 {
				return fmt.Errorf("launch %d: block %v", i, l.Block)
			}
			threads *= b
		}
		if threads != k.Threads {
			return fmt.Errorf("launch %d: block %v is not the %d threads of %s", i, l.Block, k.Threads, k.Name)
		}
		for _, e := range l.Grid {
			if e.Per < 1 {
				return fmt.Errorf("launch %d: grid divisor %d", i, e.Per)
			}
		}
		for j, a := range l.Args {
			switch {
			case (a.Buffer == nil) == (a.Size == nil):
				return fmt.Errorf("launch %d: argument %d must be a buffer or a size", i, j)
			case a.Buffer != nil && (*a.Buffer < 0 || *a.Buffer >= nb):
				return fmt.Errorf("launch %d: argument %d: buffer %d out of range", i, j, *a.Buffer)
			}
		}
	}
	return nil
}

// polyFromSize converts a Size back to a poly.
func polyFromSize(s Size) poly {
	p := poly{}
	for _, t := range s.Terms {
		p[t.Symbols] += t.Coef
	}
	return p.trim()
}

// isCIdent reports whether s is a C identifier.
func isCIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}
