package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode/utf8"
)

// WriteTensor is one tensor handed to Write or Encode. Data holds the
// little-endian element bytes; its length must match DType and Shape.
type WriteTensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

// Write stores tensors and metadata as a safetensors file at path. The file
// is written to a temporary file in the same directory and renamed into
// place, so readers never see a partial file. Output is deterministic; see
// Encode.
func Write(path string, tensors []WriteTensor, metadata map[string]string) error {
	hdr, order, err := buildHeader(path, tensors, metadata)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := writeBody(w, hdr, tensors, order); err != nil {
		return fmt.Errorf("safetensors: %s: write: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("safetensors: %s: write: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	ok = true
	return nil
}

// Encode writes tensors and metadata to w in safetensors format. The header
// lists "__metadata__" first (omitted when metadata is empty), then tensors
// sorted by name; data follows in the same order, packed. The header is
// padded with spaces so the data section starts at a multiple of 8 bytes.
func Encode(w io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	hdr, order, err := buildHeader("", tensors, metadata)
	if err != nil {
		return err
	}
	if err := writeBody(w, hdr, tensors, order); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

func writeBody(w io.Writer, hdr []byte, tensors []WriteTensor, order []int) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, i := range order {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// buildHeader validates the tensors and returns the padded JSON header and
// the order (by name) in which their data is to be written.
func buildHeader(path string, tensors []WriteTensor, metadata map[string]string) ([]byte, []int, error) {
	fail := func(field, format string, args ...any) error {
		return &FormatError{Path: path, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return tensors[order[a]].Name < tensors[order[b]].Name })

	hdr := []byte{'{'}
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, nil, fail(metadataKey, "entry %q is not valid UTF-8", clip(k))
			}
		}
		hdr = append(appendString(hdr, metadataKey), ":{"...)
		for i, k := range keys {
			if i > 0 {
				hdr = append(hdr, ',')
			}
			hdr = appendString(append(appendString(hdr, k), ':'), metadata[k])
		}
		hdr = append(hdr, '}')
	}
	var offset int64
	for k, i := range order {
		t := &tensors[i]
		field := tensorField(t.Name)
		switch {
		case t.Name == "":
			return nil, nil, fail(field, "empty tensor name")
		case t.Name == metadataKey:
			return nil, nil, fail(field, "reserved name")
		case !utf8.ValidString(t.Name):
			return nil, nil, fail(field, "name is not valid UTF-8")
		case k > 0 && tensors[order[k-1]].Name == t.Name:
			return nil, nil, fail(field, "duplicate tensor name")
		case !t.DType.Valid():
			return nil, nil, fail(field+": dtype", "unknown dtype %q", clip(string(t.DType)))
		case len(t.Shape) > MaxRank:
			return nil, nil, fail(field+": shape", "more than %d dimensions", MaxRank)
		}
		nbytes, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return nil, nil, fail(field+": shape", "%v", err)
		}
		if int64(len(t.Data)) != nbytes {
			return nil, nil, fail(field, "data is %d bytes but shape %v of %s needs %d", len(t.Data), t.Shape, t.DType, nbytes)
		}
		if offset > math.MaxInt64-nbytes {
			return nil, nil, fail(field, "total data size overflows int64")
		}
		if len(hdr) > 1 {
			hdr = append(hdr, ',')
		}
		hdr = appendString(hdr, t.Name)
		hdr = append(hdr, `:{"dtype":`...)
		hdr = appendString(hdr, string(t.DType))
		hdr = append(hdr, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				hdr = append(hdr, ',')
			}
			hdr = strconv.AppendInt(hdr, d, 10)
		}
		hdr = append(hdr, `],"data_offsets":[`...)
		hdr = strconv.AppendInt(hdr, offset, 10)
		hdr = append(hdr, ',')
		offset += nbytes
		hdr = strconv.AppendInt(hdr, offset, 10)
		hdr = append(hdr, "]}"...)
	}
	hdr = append(hdr, '}')
	for (8+len(hdr))%8 != 0 {
		hdr = append(hdr, ' ')
	}
	if len(hdr) > MaxHeaderSize {
		return nil, nil, fail("header", "%d bytes exceeds the %d-byte limit", len(hdr), MaxHeaderSize)
	}
	return hdr, order, nil
}

// appendString appends s as a JSON string literal.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, b...)
}
