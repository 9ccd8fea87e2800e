package artifact

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/ssmc-dev/ssmc/ir"
)

// Meta is the "meta" section: where the model came from.
type Meta struct {
	// Producer names the ssmc that wrote the file.
	Producer string `json:"producer"`
	// Source is the compiled input (a checkpoint folder, an ONNX file).
	Source string `json:"source,omitempty"`
	// Config is the model's configuration as the importer read it.
	Config json.RawMessage `json:"config,omitempty"`
	// Adapters lists the LoRA adapters compiled in.
	Adapters []string `json:"adapters,omitempty"`
	// Dtype is the storage precision policy it was compiled with.
	Dtype string `json:"dtype,omitempty"`
}

// WeightEntry locates one tensor in the weights section.
type WeightEntry struct {
	Name   string  `json:"name"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
	Offset int64   `json:"offset"`
	Length int64   `json:"length"`
}

// Save writes m (its IR and every weight its Params use), meta and any
// extra sections to path, atomically.
func Save(path string, m *ir.Module, meta Meta, extra ...Section) error {
	if err := ir.Verify(m); err != nil {
		return fmt.Errorf("artifact: refusing to save invalid IR: %w", err)
	}
	used := map[string]*ir.Tensor{}
	for _, f := range m.Funcs {
		for _, v := range f.Body {
			if v.Op == ir.OpParam {
				name := v.Attrs.String("name", "")
				w := m.Weights[name]
				if w == nil {
					return fmt.Errorf("artifact: weight %q is not bound", name)
				}
				used[name] = w
			}
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	index := make([]WeightEntry, len(names))
	off := int64(0)
	for i, n := range names {
		w := used[n]
		off = int64(align(uint64(off)))
		index[i] = WeightEntry{Name: n, DType: w.DType.String(), Shape: w.Shape, Offset: off, Length: int64(len(w.Data))}
		off += int64(len(w.Data))
	}
	total := off
	idx, err := json.Marshal(index)
	if err != nil {
		return err
	}
	metaJSON, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	sections := []Section{
		{Name: metaName, Data: metaJSON},
		{Name: irName, Data: []byte(ir.Print(m))},
		{Name: weightsIdxKey, Data: idx},
	}
	sections = append(sections, extra...)
	sections = append(sections, Section{Name: WeightsName, Len: total, Write: func(w io.Writer) error {
		pos := int64(0)
		zeros := make([]byte, sectionAlign)
		for i, e := range index {
			if _, err := w.Write(zeros[:e.Offset-pos]); err != nil {
				return err
			}
			if _, err := w.Write(used[names[i]].Data); err != nil {
				return err
			}
			pos = e.Offset + e.Length
		}
		return nil
	}})
	return WriteFile(path, sections)
}

// Model is a loaded artifact: the IR with its weights bound in place to the
// mapped file.
type Model struct {
	File    *File
	Meta    Meta
	Module  *ir.Module
	Weights []WeightEntry
}

// Load opens an artifact, parses and verifies its IR and binds the weights
// zero-copy.
func Load(path string) (*Model, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	m, err := load(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

func load(f *File) (*Model, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("artifact %s: %s", f.path, fmt.Sprintf(format, args...))
	}
	get := func(name string) ([]byte, error) {
		b, ok := f.Section(name)
		if !ok {
			return nil, bad("no %q section", name)
		}
		return b, nil
	}
	model := &Model{File: f}
	metaB, err := get(metaName)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(metaB, &model.Meta); err != nil {
		return nil, bad("meta: %v", err)
	}
	irB, err := get(irName)
	if err != nil {
		return nil, err
	}
	mod, err := ir.Parse(f.path+":ir", string(irB))
	if err != nil {
		return nil, bad("%v", err)
	}
	idxB, err := get(weightsIdxKey)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(idxB, &model.Weights); err != nil {
		return nil, bad("weights.index: %v", err)
	}
	blob, _ := f.Section(WeightsName)
	mod.Weights = make(map[string]*ir.Tensor, len(model.Weights))
	for _, e := range model.Weights {
		dt, err := ir.ParseDType(e.DType)
		if err != nil {
			return nil, bad("weight %s: %v", e.Name, err)
		}
		if e.Offset < 0 || e.Length < 0 || e.Offset%sectionAlign != 0 || e.Offset > int64(len(blob)) || e.Length > int64(len(blob))-e.Offset {
			return nil, bad("weight %s: bytes [%d, +%d) outside the weights section (%d bytes)", e.Name, e.Offset, e.Length, len(blob))
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || d > 0 && n > math.MaxInt64/d {
				return nil, bad("weight %s: bad shape %v", e.Name, e.Shape)
			}
			n *= d
		}
		if n > math.MaxInt64/8 || n*int64(dt.Size()) != e.Length {
			return nil, bad("weight %s: %v%v needs %d bytes, index says %d", e.Name, dt, e.Shape, n*int64(dt.Size()), e.Length)
		}
		if mod.Weights[e.Name] != nil {
			return nil, bad("weight %s listed twice", e.Name)
		}
		t, err := ir.NewTensor(dt, e.Shape, blob[e.Offset:e.Offset+e.Length:e.Offset+e.Length])
		if err != nil {
			return nil, bad("weight %s: %v", e.Name, err)
		}
		mod.Weights[e.Name] = t
	}
	if err := ir.Verify(mod); err != nil {
		return nil, bad("%v", err)
	}
	model.Module = mod
	return model, nil
}

// Close releases the mapping; the module's weights become invalid.
func (m *Model) Close() error { return m.File.Close() }
