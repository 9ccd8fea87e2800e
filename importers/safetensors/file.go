package safetensors

import (
	"github.com/ssmc-dev/ssmc/internal/mmap"

	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
)

// TensorInfo describes one tensor stored in a safetensors file.
type TensorInfo struct {
	Name   string
	DType  DType
	Shape  []int64
	Offset int64 // start of the tensor's bytes, relative to the data section
	Length int64 // size of the tensor's bytes
}

// NumElements returns the number of elements (the product of Shape; 1 for
// a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d // validated by Open: cannot overflow
	}
	return n
}

func (t TensorInfo) clone() TensorInfo {
	t.Shape = slices.Clone(t.Shape)
	return t
}

// Reader is the read interface shared by a single File and a Sharded
// checkpoint.
type Reader interface {
	// Tensors returns every tensor, sorted by name.
	Tensors() []TensorInfo
	// Tensor looks up one tensor by name.
	Tensor(name string) (TensorInfo, bool)
	// Bytes returns the raw little-endian bytes of a tensor.
	Bytes(name string) ([]byte, error)
	// Float32s converts a floating-point tensor to a new []float32.
	Float32s(name string) ([]float32, error)
	// Metadata returns a copy of the string metadata.
	Metadata() map[string]string
	// Close releases the underlying files.
	Close() error
}

var (
	_ Reader = (*File)(nil)
	_ Reader = (*Sharded)(nil)
)

// File is an open, validated safetensors file. Its methods may be called
// concurrently, but not concurrently with Close.
type File struct {
	path    string
	buf     []byte        // whole file, mapped or read
	mapping *mmap.Mapping // nil for files built from memory
	data    []byte        // data section: buf[8+headerLen:]
	tensors []TensorInfo
	index   map[string]int
	meta    map[string]string
	closed  bool
}

// Open opens a safetensors file, memory-mapping it read-only where the
// platform allows (falling back to reading it into memory), and validates
// its header. Any problem is reported as a one-line error naming path and
// the offending tensor or field; most are *FormatError.
//
// The file must not be truncated or modified while open: on unix a
// shrinking mapped file can fault the process.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{Path: path, Field: "file", Msg: "not a regular file"}
	}
	size := st.Size()
	if size < 8 {
		return nil, &FormatError{Path: path, Field: "header length",
			Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", size)}
	}
	if size > math.MaxInt || size < 0 {
		return nil, &FormatError{Path: path, Field: "file", Msg: "too large for this platform"}
	}
	m, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	sf, err := newFile(path, m.Bytes())
	if err != nil {
		m.Close()
		return nil, err
	}
	sf.mapping = m
	return sf, nil
}

// newFile validates the contents of a whole safetensors file held in buf.
func newFile(path string, buf []byte) (*File, error) {
	size := uint64(len(buf))
	if size < 8 {
		return nil, &FormatError{Path: path, Field: "header length",
			Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", size)}
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > MaxHeaderSize {
		return nil, &FormatError{Path: path, Field: "header length",
			Msg: fmt.Sprintf("%d exceeds the %d-byte limit", n, MaxHeaderSize)}
	}
	if n > size-8 {
		return nil, &FormatError{Path: path, Field: "header length",
			Msg: fmt.Sprintf("%d exceeds the %d bytes after it", n, size-8)}
	}
	data := buf[8+n:]
	tensors, meta, err := parseHeader(path, buf[8:8+n], int64(len(data)))
	if err != nil {
		return nil, err
	}
	index := make(map[string]int, len(tensors))
	for i, t := range tensors {
		index[t.Name] = i
	}
	return &File{path: path, buf: buf, data: data, tensors: tensors, index: index, meta: meta}, nil
}

// Close releases the file's memory mapping. Slices returned by Bytes must
// not be used afterwards. Closing twice is harmless.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	m := f.mapping
	f.buf, f.data, f.mapping = nil, nil, nil
	if m != nil {
		if err := m.Close(); err != nil {
			return fmt.Errorf("safetensors: %s: munmap: %w", f.path, err)
		}
	}
	return nil
}

// Path returns the path the file was opened with.
func (f *File) Path() string { return f.path }

// Tensors returns every tensor in the file, sorted by name. The slice and
// shapes are copies.
func (f *File) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(f.tensors))
	for i, t := range f.tensors {
		out[i] = t.clone()
	}
	return out
}

// Tensor returns the description of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.tensors[i].clone(), true
}

// Metadata returns a copy of the header's "__metadata__" map, or nil if the
// header had none.
func (f *File) Metadata() map[string]string {
	if f.meta == nil {
		return nil
	}
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// Bytes returns the raw little-endian bytes of the named tensor. The slice
// aliases the file mapping (no copy): it is read-only, must not be
// modified, and is valid only until Close.
func (f *File) Bytes(name string) ([]byte, error) {
	if f.closed {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrClosed)
	}
	i, ok := f.index[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, ErrNotFound)
	}
	t := f.tensors[i]
	end := t.Offset + t.Length
	return f.data[t.Offset:end:end], nil
}

// Float32s converts the named F32, F16, BF16 or F64 tensor to a newly
// allocated []float32 (F64 rounds to nearest; NaN and infinities are kept).
func (f *File) Float32s(name string) ([]float32, error) {
	b, err := f.Bytes(name)
	if err != nil {
		return nil, err
	}
	dt := f.tensors[f.index[name]].DType
	out, ok := decodeFloat32s(dt, b)
	if !ok {
		return nil, &FormatError{Path: f.path, Field: tensorField(name),
			Msg: fmt.Sprintf("cannot convert dtype %s to float32", dt)}
	}
	return out, nil
}

// decodeFloat32s converts little-endian floating-point data to float32.
func decodeFloat32s(dt DType, b []byte) ([]float32, bool) {
	if !dt.IsFloat() {
		return nil, false
	}
	out := make([]float32, len(b)/dt.Size())
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(le.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToF32(le.Uint16(b[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	}
	return out, true
}
