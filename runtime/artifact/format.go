package artifact

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/ssmc-dev/ssmc/internal/mmap"
)

// Format constants.
const (
	Magic         = "SSMCART\x00"
	Version       = 1
	headerSize    = 24
	entrySize     = 48
	nameSize      = 24
	sectionAlign  = 64
	maxSections   = 1024
	WeightsName   = "weights"
	metaName      = "meta"
	irName        = "ir"
	weightsIdxKey = "weights.index"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Section is one named part of an artifact. Exactly one of Data and Write
// is set; Write streams Len bytes (for weights, which are not copied into
// one buffer).
type Section struct {
	Name  string
	Data  []byte
	Len   int64
	Write func(w io.Writer) error
}

func (s *Section) size() int64 {
	if s.Write != nil {
		return s.Len
	}
	return int64(len(s.Data))
}

type entry struct {
	name         string
	offset, size uint64
	crc          uint32
}

// WriteFile writes sections to path atomically.
func WriteFile(path string, sections []Section) (err error) {
	seen := map[string]bool{}
	for _, s := range sections {
		if s.Name == "" || len(s.Name) >= nameSize || seen[s.Name] {
			return fmt.Errorf("artifact: bad or repeated section name %q", s.Name)
		}
		seen[s.Name] = true
	}
	if len(sections) > maxSections {
		return fmt.Errorf("artifact: %d sections, at most %d", len(sections), maxSections)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	entries := make([]entry, len(sections))
	off := align(uint64(headerSize + entrySize*len(sections)))
	for i := range sections {
		entries[i] = entry{name: sections[i].Name, offset: off, size: uint64(sections[i].size())}
		off = align(off + entries[i].size)
	}
	// Sections first (after room for the header), table last: the table
	// holds checksums computed while streaming.
	bw := bufio.NewWriterSize(tmp, 1<<20)
	pos := uint64(0)
	pad := func(to uint64) error {
		_, err := bw.Write(make([]byte, to-pos))
		pos = to
		return err
	}
	if err := pad(entries0(entries, off)); err != nil {
		return err
	}
	for i := range sections {
		if err := pad(entries[i].offset); err != nil {
			return fmt.Errorf("artifact: %w", err)
		}
		h := crc32.New(castagnoli)
		cw := &countWriter{w: io.MultiWriter(bw, h)}
		if sections[i].Write != nil {
			err = sections[i].Write(cw)
		} else {
			_, err = cw.Write(sections[i].Data)
		}
		if err != nil {
			return fmt.Errorf("artifact: section %s: %w", sections[i].Name, err)
		}
		if uint64(cw.n) != entries[i].size {
			return fmt.Errorf("artifact: section %s wrote %d bytes, declared %d", sections[i].Name, cw.n, entries[i].size)
		}
		entries[i].crc = h.Sum32()
		pos += entries[i].size
	}
	if err := pad(off); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	if _, err := tmp.WriteAt(encodeHeader(entries), 0); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("artifact: %w", err)
	}
	return nil
}

// entries0 is where the first section starts (or the end, if none).
func entries0(entries []entry, end uint64) uint64 {
	if len(entries) == 0 {
		return end
	}
	return entries[0].offset
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func align(n uint64) uint64 { return (n + sectionAlign - 1) &^ (sectionAlign - 1) }

func encodeHeader(entries []entry) []byte {
	b := make([]byte, headerSize+entrySize*len(entries))
	copy(b, Magic)
	binary.LittleEndian.PutUint32(b[8:], Version)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(entries)))
	for i, e := range entries {
		p := b[headerSize+i*entrySize:]
		copy(p[:nameSize], e.name)
		binary.LittleEndian.PutUint64(p[24:], e.offset)
		binary.LittleEndian.PutUint64(p[32:], e.size)
		binary.LittleEndian.PutUint32(p[40:], e.crc)
	}
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[headerSize:], castagnoli))
	return b
}

// File is an open artifact: its sections, zero-copy from the mapping.
type File struct {
	path     string
	data     []byte
	m        *mmap.Mapping
	sections map[string]entry
	names    []string
}

// Open maps an artifact and checks its header, table and the checksums of
// every section except the weights.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	f, err := parse(path, m.Bytes())
	if err != nil {
		m.Close()
		return nil, err
	}
	f.m = m
	return f, nil
}

// ErrVersion is wrapped by the error for a file of another format version.
var ErrVersion = errors.New("incompatible artifact version")

func parse(path string, b []byte) (*File, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("artifact %s: %s", path, fmt.Sprintf(format, args...))
	}
	if len(b) < headerSize || string(b[:8]) != Magic {
		return nil, bad("not an ssmc artifact (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != Version {
		return nil, fmt.Errorf("artifact %s: format version %d, this ssmc reads version %d; recompile the model: %w", path, v, Version, ErrVersion)
	}
	n := binary.LittleEndian.Uint32(b[12:])
	if n > maxSections || uint64(len(b)) < uint64(headerSize)+uint64(n)*entrySize {
		return nil, bad("truncated or corrupt section table (%d sections)", n)
	}
	table := b[headerSize : headerSize+int(n)*entrySize]
	if crc32.Checksum(table, castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return nil, bad("section table checksum mismatch (file corrupt)")
	}
	f := &File{path: path, data: b, sections: map[string]entry{}}
	var list []entry
	for i := 0; i < int(n); i++ {
		p := table[i*entrySize:]
		name := string(p[:nameSize])
		for k := 0; k < len(name); k++ {
			if name[k] == 0 {
				name = name[:k]
				break
			}
		}
		e := entry{name: name, offset: binary.LittleEndian.Uint64(p[24:]),
			size: binary.LittleEndian.Uint64(p[32:]), crc: binary.LittleEndian.Uint32(p[40:])}
		if name == "" || f.sections[name].name != "" {
			return nil, bad("empty or repeated section name %q", name)
		}
		if e.offset%sectionAlign != 0 || e.offset < uint64(len(table)+headerSize) ||
			e.offset > uint64(len(b)) || e.size > uint64(len(b))-e.offset {
			return nil, bad("section %s (offset %d, length %d) lies outside the file (%d bytes)", name, e.offset, e.size, len(b))
		}
		f.sections[name] = e
		f.names = append(f.names, name)
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].offset < list[j].offset })
	for i := 1; i < len(list); i++ {
		if list[i-1].offset+list[i-1].size > list[i].offset {
			return nil, bad("sections %s and %s overlap", list[i-1].name, list[i].name)
		}
	}
	for _, e := range list {
		if e.name == WeightsName {
			continue
		}
		if crc32.Checksum(b[e.offset:e.offset+e.size], castagnoli) != e.crc {
			return nil, bad("section %s checksum mismatch (file corrupt)", e.name)
		}
	}
	return f, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Sections lists the section names in file order.
func (f *File) Sections() []string { return append([]string(nil), f.names...) }

// Section returns the bytes of a section (zero-copy; valid until Close).
func (f *File) Section(name string) ([]byte, bool) {
	e, ok := f.sections[name]
	if !ok {
		return nil, false
	}
	return f.data[e.offset : e.offset+e.size : e.offset+e.size], true
}

// Verify checks the checksum of every section, weights included (this
// reads the whole file).
func (f *File) Verify() error {
	for _, name := range f.names {
		e := f.sections[name]
		b, _ := f.Section(name)
		if crc32.Checksum(b, castagnoli) != e.crc {
			return fmt.Errorf("artifact %s: section %s checksum mismatch (file corrupt)", f.path, name)
		}
	}
	return nil
}

// Close unmaps the file; slices from Section become invalid.
func (f *File) Close() error {
	f.data = nil
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m = nil
	return err
}
