package hf

import (
	"fmt"
	"slices"

	"github.com/ssmc-dev/ssmc/importers/safetensors"
	"github.com/ssmc-dev/ssmc/ir"
)

// Model is a loaded checkpoint: its config, the built module and the
// table of stored tensors. The module's weights point into the
// checkpoint's memory mapping and are valid until Close.
type Model struct {
	Config *Config
	Module *ir.Module
	// Tensors describes every stored tensor, sorted by name.
	Tensors []TensorEntry
	// Warnings notes what Load tolerated (an ignored tied lm_head.weight).
	Warnings []string

	reader safetensors.Reader
}

// TensorEntry is one stored tensor, for inspection.
type TensorEntry struct {
	// Name is the stored name; Normalized its normalized name.
	Name, Normalized string
	// DType is the storage dtype as spelled in the file (F32, BF16, …).
	DType string
	Shape []int64
	Bytes int64
}

// Load reads a checkpoint directory — config.json plus model.safetensors
// or a sharded model.safetensors.index.json — and builds its module with
// Build's rules. Tensor data is not copied: the module's weights alias the
// file mapping, except the small tensors converted to f32 and A.
func Load(dir string, opts Options) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("hf: %v", err)
	}
	m := &Model{Config: cfg, reader: r}
	weights := map[string]*ir.Tensor{}
	bad := map[string]string{}
	for _, ti := range r.Tensors() {
		norm, _ := NormalizeName(ti.Name)
		m.Tensors = append(m.Tensors, TensorEntry{Name: ti.Name, Normalized: norm, DType: string(ti.DType),
			Shape: slices.Clone(ti.Shape), Bytes: ti.Length})
		data, err := r.Bytes(ti.Name)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("hf: %v", err)
		}
		dt, ok := irDType(ti.DType)
		if !ok {
			bad[ti.Name] = string(ti.DType)
		}
		weights[ti.Name] = &ir.Tensor{DType: dt, Shape: slices.Clone(ti.Shape), Data: data}
	}
	source := dir
	if p, ok := r.(interface{ Path() string }); ok {
		source = p.Path()
	}
	mod, warnings, err := build(cfg, source, weights, bad, opts)
	if err != nil {
		r.Close()
		return nil, err
	}
	m.Module, m.Warnings = mod, warnings
	return m, nil
}

// Close releases the checkpoint files; the module's weights that alias
// them must not be used afterwards.
func (m *Model) Close() error {
	if m == nil || m.reader == nil {
		return nil
	}
	err := m.reader.Close()
	m.reader = nil
	return err
}

// irDType maps a safetensors dtype to the IR's.
func irDType(d safetensors.DType) (ir.DType, bool) {
	switch d {
	case safetensors.F32:
		return ir.F32, true
	case safetensors.F16:
		return ir.F16, true
	case safetensors.BF16:
		return ir.BF16, true
	case safetensors.F64:
		return ir.F64, true
	case safetensors.I8:
		return ir.I8, true
	case safetensors.I32:
		return ir.I32, true
	case safetensors.I64:
		return ir.I64, true
	case safetensors.Bool:
		return ir.Bool, true
	}
	return ir.InvalidDType, false
}
