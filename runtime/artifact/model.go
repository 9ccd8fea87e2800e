package artifact

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
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
	var base, adapters []string
	for n := range used {
		if IsAdapterWeight(n) {
			adapters = append(adapters, n)
		} else {
			base = append(base, n)
		}
	}
	metaJSON, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return err
	}
	sections := []Section{
		{Name: metaName, Data: metaJSON},
		{Name: irName, Data: []byte(ir.Print(m))},
	}
	sections = append(sections, extra...)
	baseSecs, err := tensorSections(weightsIdxKey, WeightsName, base, used)
	if err != nil {
		return err
	}
	sections = append(sections, baseSecs...)
	if len(adapters) > 0 {
		adSecs, err := tensorSections(adaptersIdxKey, AdaptersName, adapters, used)
		if err != nil {
			return err
		}
		sections = append(sections, adSecs...)
	}
	return WriteFile(path, sections)
}

// AdaptersName is the section holding the LoRA adapters' factors of a
// model compiled with adapters kept apart from the base weights
// (-lora-mode fused): every weight IsAdapterWeight names, laid out as
// the base weights are, with its index in "adapters.index". Loading
// binds them like the base weights; ssmc.LoadOptions.Adapters replaces
// them with other adapters' factors without recompiling.
const (
	AdaptersName   = "adapters"
	adaptersIdxKey = "adapters.index"
)

// adapterWeight matches the names the checkpoint importer gives LoRA
// factors: "<base weight>.lora.<k>.A" (or A_T, B).
var adapterWeight = regexp.MustCompile(`\.lora\.[0-9]+\.(A|A_T|B)$`)

// IsAdapterWeight reports whether name is a LoRA factor's weight name.
func IsAdapterWeight(name string) bool { return adapterWeight.MatchString(name) }

// tensorSections lays out the named tensors of used (sorted, each aligned
// for mapping) as an index section and a data section.
func tensorSections(idxName, dataName string, names []string, used map[string]*ir.Tensor) ([]Section, error) {
	sort.Strings(names)
	index := make([]WeightEntry, len(names))
	off := int64(0)
	for i, n := range names {
		w := used[n]
		off = int64(align(uint64(off)))
		index[i] = WeightEntry{Name: n, DType: w.DType.String(), Shape: w.Shape, Offset: off, Length: int64(len(w.Data))}
		off += int64(len(w.Data))
	}
	idx, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	return []Section{{Name: idxName, Data: idx}, {Name: dataName, Len: off, Write: func(w io.Writer) error {
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
	}}}, nil
}

// Model is a loaded artifact: the IR with its weights bound in place to the
// mapped file.
type Model struct {
	File    *File
	Meta    Meta
	Module  *ir.Module
	Weights []WeightEntry
	// Adapters are the entries of the "adapters" section (none for a
	// model without adapters, or with them merged).
	Adapters []WeightEntry
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
	mod.Weights = map[string]*ir.Tensor{}
	if model.Weights, err = bindTensors(f, idxB, WeightsName, mod.Weights); err != nil {
		return nil, err
	}
	if idxA, ok := f.Section(adaptersIdxKey); ok {
		if model.Adapters, err = bindTensors(f, idxA, AdaptersName, mod.Weights); err != nil {
			return nil, err
		}
	}
	if err := ir.Verify(mod); err != nil {
		return nil, bad("%v", err)
	}
	model.Module = mod
	return model, nil
}

// Close releases the mapping; the module's weights become invalid.
func (m *Model) Close() error { return m.File.Close() }

// bindTensors parses the index idx of data section dataName and binds
// each tensor, zero-copy, into weights, checking every entry against the
// section's bounds and its dtype and shape.
func bindTensors(f *File, idx []byte, dataName string, weights map[string]*ir.Tensor) ([]WeightEntry, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("artifact %s: %s", f.path, fmt.Sprintf(format, args...))
	}
	var entries []WeightEntry
	if err := json.Unmarshal(idx, &entries); err != nil {
		return nil, bad("%s.index: %v", dataName, err)
	}
	blob, _ := f.Section(dataName)
	for _, e := range entries {
		dt, err := ir.ParseDType(e.DType)
		if err != nil {
			return nil, bad("weight %s: %v", e.Name, err)
		}
		if e.Offset < 0 || e.Length < 0 || e.Offset%sectionAlign != 0 || e.Offset > int64(len(blob)) || e.Length > int64(len(blob))-e.Offset {
			return nil, bad("weight %s: bytes [%d, +%d) outside the %s section (%d bytes)", e.Name, e.Offset, e.Length, dataName, len(blob))
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
		if weights[e.Name] != nil {
			return nil, bad("weight %s listed twice", e.Name)
		}
		t, err := ir.NewTensor(dt, e.Shape, blob[e.Offset:e.Offset+e.Length:e.Offset+e.Length])
		if err != nil {
			return nil, bad("weight %s: %v", e.Name, err)
		}
		weights[e.Name] = t
	}
	return entries, nil
}
