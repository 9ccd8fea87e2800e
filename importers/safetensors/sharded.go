package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"
)

const (
	// SingleFileName is the conventional name of an unsharded checkpoint.
	SingleFileName = "model.safetensors"
	// IndexFileName is the conventional name of a sharded checkpoint index.
	IndexFileName = "model.safetensors.index.json"
	// MaxIndexSize bounds the size of an index file accepted by OpenIndex.
	MaxIndexSize = 100 << 20
)

// Sharded is a checkpoint split over several safetensors files and
// described by an index file (see IndexFileName). Its methods may be called
// concurrently, but not concurrently with Close.
type Sharded struct {
	path    string
	names   []string // shard file names, sorted
	shards  []*File  // parallel to names
	owner   map[string]int
	tensors []TensorInfo // sorted by name
	meta    map[string]string
	closed  bool
}

// OpenIndex opens a sharded checkpoint from its index file, a JSON object
// {"metadata": {...}, "weight_map": {"tensor": "shard file", ...}}. Every
// shard must be a plain file name in the index's directory. Each shard is
// opened with Open; every weight_map tensor must be in the shard it names,
// no tensor may appear in two shards, and every shard tensor must be listed.
func OpenIndex(path string) (*Sharded, error) {
	doc, err := readIndex(path)
	if err != nil {
		return nil, err
	}
	weightMap, meta, err := parseIndex(path, doc)
	if err != nil {
		return nil, err
	}
	listed := make([]string, 0, len(weightMap))
	for tensor := range weightMap {
		listed = append(listed, tensor)
	}
	sort.Strings(listed) // deterministic error reports
	shardSet := make(map[string]bool)
	for _, tensor := range listed {
		shard := weightMap[tensor]
		if !plainFileName(shard) {
			return nil, &FormatError{Path: path, Field: fmt.Sprintf("weight_map[%q]", clip(tensor)),
				Msg: fmt.Sprintf("shard %q is not a plain file name in the index directory", clip(shard))}
		}
		shardSet[shard] = true
	}
	s := &Sharded{path: path, meta: meta, owner: make(map[string]int, len(weightMap))}
	for name := range shardSet {
		s.names = append(s.names, name)
	}
	sort.Strings(s.names)
	dir := filepath.Dir(path)
	for i, name := range s.names {
		f, err := Open(filepath.Join(dir, name))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("safetensors: %s: shard %q: %w", path, name, err)
		}
		s.shards = append(s.shards, f)
		for _, t := range f.tensors {
			if j, dup := s.owner[t.Name]; dup {
				s.Close()
				return nil, &FormatError{Path: path, Field: tensorField(t.Name),
					Msg: fmt.Sprintf("present in both shard %q and shard %q", s.names[j], name)}
			}
			if _, listed := weightMap[t.Name]; !listed {
				s.Close()
				return nil, &FormatError{Path: path, Field: tensorField(t.Name),
					Msg: fmt.Sprintf("in shard %q but missing from weight_map", name)}
			}
			s.owner[t.Name] = i
			s.tensors = append(s.tensors, t)
		}
	}
	for _, tensor := range listed {
		shard := weightMap[tensor]
		j, ok := s.owner[tensor]
		if !ok || s.names[j] != shard {
			s.Close()
			msg := fmt.Sprintf("weight_map names shard %q, which does not contain it", shard)
			if ok {
				msg += fmt.Sprintf(" (found in shard %q)", s.names[j])
			}
			return nil, &FormatError{Path: path, Field: tensorField(tensor), Msg: msg}
		}
	}
	sort.Slice(s.tensors, func(i, j int) bool { return s.tensors[i].Name < s.tensors[j].Name })
	return s, nil
}

// OpenDir opens the checkpoint in dir: SingleFileName if present, otherwise
// the sharded checkpoint described by IndexFileName.
func OpenDir(dir string) (Reader, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); !errors.Is(err, fs.ErrNotExist) {
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); !errors.Is(err, fs.ErrNotExist) {
		s, err := OpenIndex(index)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("safetensors: %s: neither %s nor %s found", dir, SingleFileName, IndexFileName)
}

// plainFileName reports whether name is a single path element that cannot
// escape its directory.
func plainFileName(name string) bool {
	return name != "" && name != "." && name != ".." &&
		!strings.ContainsAny(name, "/\\\x00") &&
		filepath.Base(name) == name && filepath.VolumeName(name) == "" && !filepath.IsAbs(name)
}

func readIndex(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxIndexSize {
		return nil, &FormatError{Path: path, Field: "index", Msg: fmt.Sprintf("larger than %d bytes", MaxIndexSize)}
	}
	doc, err := io.ReadAll(io.LimitReader(f, MaxIndexSize+1))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: read: %w", path, err)
	}
	if len(doc) > MaxIndexSize {
		return nil, &FormatError{Path: path, Field: "index", Msg: fmt.Sprintf("larger than %d bytes", MaxIndexSize)}
	}
	return doc, nil
}

// parseIndex parses an index document. Metadata values that are not JSON
// strings are kept as compact JSON text (e.g. "total_size": "1234").
func parseIndex(path string, doc []byte) (map[string]string, map[string]string, error) {
	p := newJSONParser(path, doc)
	if !utf8.Valid(doc) {
		return nil, nil, p.fail("index", "JSON is not valid UTF-8")
	}
	var weightMap, meta map[string]string
	err := p.object("index", func(key string) error {
		switch key {
		case "weight_map":
			weightMap = make(map[string]string)
			return p.object("weight_map", func(tensor string) error {
				if tensor == "" {
					return p.fail("weight_map", "empty tensor name")
				}
				shard, err := p.str(fmt.Sprintf("weight_map[%q]", clip(tensor)))
				weightMap[tensor] = shard
				return err
			})
		case "metadata":
			meta = make(map[string]string)
			return p.object("metadata", func(k string) error {
				v, err := p.raw(fmt.Sprintf("metadata[%q]", clip(k)))
				meta[k] = v
				return err
			})
		default:
			_, err := p.raw(fmt.Sprintf("index[%q]", clip(key)))
			return err
		}
	})
	if err == nil {
		err = p.end("index")
	}
	if err == nil && weightMap == nil {
		err = p.fail("weight_map", "missing")
	}
	return weightMap, meta, err
}

// raw reads any JSON value, returning a string's contents or other values
// as compact JSON text.
func (p *jsonParser) raw(field string) (string, error) {
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return "", p.fail(field, "invalid JSON: %v", err)
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", p.fail(field, "invalid JSON: %v", err)
		}
		return s, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", p.fail(field, "invalid JSON: %v", err)
	}
	return b.String(), nil
}

// Close closes every shard, returning the first error.
func (s *Sharded) Close() error {
	var first error
	for _, f := range s.shards {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closed = true
	return first
}

// Path returns the path of the index file.
func (s *Sharded) Path() string { return s.path }

// Shards returns the shard file names, sorted.
func (s *Sharded) Shards() []string { return append([]string(nil), s.names...) }

// Tensors returns every tensor of every shard, sorted by name.
func (s *Sharded) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(s.tensors))
	for i, t := range s.tensors {
		out[i] = t.clone()
	}
	return out
}

// Tensor returns the description of the named tensor.
func (s *Sharded) Tensor(name string) (TensorInfo, bool) {
	if i, ok := s.owner[name]; ok {
		return s.shards[i].Tensor(name)
	}
	return TensorInfo{}, false
}

// Metadata returns a copy of the index's "metadata" object, or nil if it
// had none. Non-string values are rendered as compact JSON.
func (s *Sharded) Metadata() map[string]string {
	if s.meta == nil {
		return nil
	}
	m := make(map[string]string, len(s.meta))
	for k, v := range s.meta {
		m[k] = v
	}
	return m
}

func (s *Sharded) shard(name string) (*File, error) {
	if s.closed {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", s.path, name, ErrClosed)
	}
	i, ok := s.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", s.path, name, ErrNotFound)
	}
	return s.shards[i], nil
}

// Bytes returns the raw bytes of the named tensor from its shard; see
// File.Bytes for the aliasing rules.
func (s *Sharded) Bytes(name string) ([]byte, error) {
	f, err := s.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32s converts the named floating-point tensor to a new []float32;
// see File.Float32s.
func (s *Sharded) Float32s(name string) ([]float32, error) {
	f, err := s.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Float32s(name)
}
