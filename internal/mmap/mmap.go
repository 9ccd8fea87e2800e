// Package mmap maps files read-only into memory, falling back to reading
// them when mapping is not possible, so that weights can be used in place.
package mmap

import (
	"fmt"
	"io"
	"os"
)

// Mapping is the read-only contents of a file.
type Mapping struct {
	data   []byte
	unmap  func([]byte) error
	mapped bool
}

// Open maps the whole file at path. An empty file gives an empty mapping.
// When the platform cannot map it, the file is read into memory instead.
func Open(path string) (*Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return &Mapping{}, nil
	}
	if b, unmap, err := mapFile(f, size); err == nil {
		return &Mapping{data: b, unmap: unmap, mapped: true}, nil
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &Mapping{data: b}, nil
}

// Bytes returns the contents. The slice is valid until Close and must not
// be written to.
func (m *Mapping) Bytes() []byte { return m.data }

// Mapped reports whether the contents are memory-mapped (not copied).
func (m *Mapping) Mapped() bool { return m.mapped }

// Close unmaps the file. Slices from Bytes must not be used afterwards.
func (m *Mapping) Close() error {
	if m.unmap == nil || m.data == nil {
		m.data = nil
		return nil
	}
	err := m.unmap(m.data)
	m.data, m.unmap = nil, nil
	return err
}
