package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

const (
	// MaxHeaderSize bounds the JSON header length accepted by Open.
	MaxHeaderSize = 100 << 20
	// MaxRank bounds the number of dimensions of a tensor.
	MaxRank = 64

	metadataKey = "__metadata__"
)

// jsonParser walks a JSON document token by token so that duplicate object
// keys can be detected and nothing is allocated from unchecked sizes.
type jsonParser struct {
	path string
	dec  *json.Decoder
}

func newJSONParser(path string, doc []byte) *jsonParser {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	return &jsonParser{path: path, dec: dec}
}

func (p *jsonParser) fail(field, format string, args ...any) error {
	return &FormatError{Path: p.path, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// token returns the next token; decoder failures are reported against field.
func (p *jsonParser) token(field string) (json.Token, error) {
	t, err := p.dec.Token()
	if err == io.EOF {
		return nil, p.fail(field, "invalid JSON: unexpected end of input")
	}
	if err != nil {
		return nil, p.fail(field, "invalid JSON: %v", err)
	}
	return t, nil
}

// open consumes the opening delimiter of an object ('{') or array ('[').
func (p *jsonParser) open(field string, delim json.Delim, what string) error {
	t, err := p.token(field)
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != delim {
		return p.fail(field, "not %s", what)
	}
	return nil
}

// object reads a JSON object, calling fn for each member with the decoder
// positioned at the member's value. Duplicate keys are an error.
func (p *jsonParser) object(field string, fn func(key string) error) error {
	if err := p.open(field, '{', "a JSON object"); err != nil {
		return err
	}
	seen := make(map[string]struct{})
	for p.dec.More() {
		t, err := p.token(field)
		if err != nil {
			return err
		}
		key, ok := t.(string)
		if !ok {
			return p.fail(field, "invalid JSON: object key is not a string")
		}
		if _, dup := seen[key]; dup {
			return p.fail(field, "duplicate key %q", clip(key))
		}
		seen[key] = struct{}{}
		if err := fn(key); err != nil {
			return err
		}
	}
	_, err := p.token(field) // closing '}'
	return err
}

// end checks that only whitespace follows the top-level value.
func (p *jsonParser) end(field string) error {
	if _, err := p.dec.Token(); err != io.EOF {
		return p.fail(field, "unexpected data after the JSON object")
	}
	return nil
}

// str reads a JSON string value.
func (p *jsonParser) str(field string) (string, error) {
	t, err := p.token(field)
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", p.fail(field, "not a string")
	}
	return s, nil
}

// ints reads an array of at most max integers.
func (p *jsonParser) ints(field string, max int) ([]int64, error) {
	if err := p.open(field, '[', "an array"); err != nil {
		return nil, err
	}
	var out []int64
	for p.dec.More() {
		if len(out) == max {
			return nil, p.fail(field, "more than %d elements", max)
		}
		elem := fmt.Sprintf("%s[%d]", field, len(out))
		t, err := p.token(elem)
		if err != nil {
			return nil, err
		}
		num, ok := t.(json.Number)
		if !ok {
			return nil, p.fail(elem, "not an integer")
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, p.fail(elem, "%q is not an integer in int64 range", clip(string(num)))
		}
		out = append(out, v)
	}
	_, err := p.token(field) // closing ']'
	return out, err
}

func tensorField(name string) string { return fmt.Sprintf("tensor %q", clip(name)) }

// parseHeader parses and validates a safetensors JSON header. dataLen is the
// size of the data section. Tensors come back sorted by name.
func parseHeader(path string, hdr []byte, dataLen int64) ([]TensorInfo, map[string]string, error) {
	p := newJSONParser(path, hdr)
	if !utf8.Valid(hdr) {
		return nil, nil, p.fail("header", "JSON is not valid UTF-8")
	}
	var tensors []TensorInfo
	var meta map[string]string
	err := p.object("header", func(key string) error {
		if key == metadataKey {
			var err error
			meta, err = p.metadata()
			return err
		}
		t, err := p.entry(key, dataLen)
		tensors = append(tensors, t)
		return err
	})
	if err == nil {
		err = p.end("header")
	}
	if err == nil {
		err = checkOverlap(p, tensors)
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(tensors, func(i, j int) bool { return tensors[i].Name < tensors[j].Name })
	return tensors, meta, nil
}

// metadata parses the "__metadata__" object of string values.
func (p *jsonParser) metadata() (map[string]string, error) {
	meta := make(map[string]string)
	err := p.object(metadataKey, func(key string) error {
		v, err := p.str(fmt.Sprintf("%s[%q]", metadataKey, clip(key)))
		meta[key] = v
		return err
	})
	return meta, err
}

// entry parses and validates one tensor entry.
func (p *jsonParser) entry(name string, dataLen int64) (TensorInfo, error) {
	field := tensorField(name)
	t := TensorInfo{Name: name}
	if name == "" {
		return t, p.fail(field, "empty tensor name")
	}
	var dtype string
	var offsets []int64
	var have [3]bool
	err := p.object(field, func(key string) error {
		var err error
		switch key {
		case "dtype":
			have[0] = true
			dtype, err = p.str(field + ": dtype")
		case "shape":
			have[1] = true
			t.Shape, err = p.ints(field+": shape", MaxRank)
		case "data_offsets":
			have[2] = true
			offsets, err = p.ints(field+": data_offsets", 2)
		default:
			err = p.fail(field, "unknown field %q", clip(key))
		}
		return err
	})
	if err != nil {
		return t, err
	}
	for i, k := range [...]string{"dtype", "shape", "data_offsets"} {
		if !have[i] {
			return t, p.fail(field, "missing field %q", k)
		}
	}
	t.DType = DType(dtype)
	if !t.DType.Valid() {
		return t, p.fail(field+": dtype", "unknown dtype %q", clip(dtype))
	}
	nbytes, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return t, p.fail(field+": shape", "%v", err)
	}
	if len(offsets) != 2 {
		return t, p.fail(field+": data_offsets", "need exactly 2 elements, have %d", len(offsets))
	}
	begin, end := offsets[0], offsets[1]
	switch {
	case begin < 0 || end < 0:
		return t, p.fail(field+": data_offsets", "negative offset in [%d, %d]", begin, end)
	case begin > end:
		return t, p.fail(field+": data_offsets", "begin %d > end %d", begin, end)
	case end-begin != nbytes:
		return t, p.fail(field+": data_offsets", "range [%d, %d] holds %d bytes but shape %v of %s needs %d",
			begin, end, end-begin, t.Shape, t.DType, nbytes)
	case end > dataLen:
		return t, p.fail(field+": data_offsets", "end %d is past the data section (%d bytes)", end, dataLen)
	}
	t.Offset, t.Length = begin, nbytes
	return t, nil
}

// byteSize returns the byte size of a tensor, rejecting negative dimensions
// and any shape whose non-zero dimensions multiply past int64.
func byteSize(dt DType, shape []int64) (int64, error) {
	n, zero := int64(dt.Size()), false
	for i, d := range shape {
		switch {
		case d < 0:
			return 0, fmt.Errorf("negative dimension %d at index %d", d, i)
		case d == 0:
			zero = true
		case n > math.MaxInt64/d:
			return 0, errors.New("size overflows int64")
		default:
			n *= d
		}
	}
	if zero {
		return 0, nil
	}
	return n, nil
}

// checkOverlap rejects tensors whose non-empty byte ranges overlap.
func checkOverlap(p *jsonParser, tensors []TensorInfo) error {
	idx := make([]int, 0, len(tensors))
	for i, t := range tensors {
		if t.Length > 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool {
		ta, tb := tensors[idx[a]], tensors[idx[b]]
		if ta.Offset != tb.Offset {
			return ta.Offset < tb.Offset
		}
		return ta.Name < tb.Name
	})
	for k := 1; k < len(idx); k++ {
		prev, cur := tensors[idx[k-1]], tensors[idx[k]]
		if cur.Offset < prev.Offset+prev.Length {
			return p.fail(tensorField(cur.Name)+": data_offsets", "range [%d, %d] overlaps tensor %q [%d, %d]",
				cur.Offset, cur.Offset+cur.Length, clip(prev.Name), prev.Offset, prev.Offset+prev.Length)
		}
	}
	return nil
}
