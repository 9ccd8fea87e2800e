package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonObject is one JSON object of config.json with the path and key
// prefix used in error messages.
type jsonObject struct {
	path   string
	prefix string // "ssm_cfg." for the nested object
	m      map[string]json.RawMessage
}

func parseObject(path string, data []byte) (*jsonObject, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("hf: %s: not valid UTF-8", path)
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil || m == nil {
		msg := "not a JSON object"
		if err != nil {
			msg = "invalid JSON: " + oneLine(err.Error())
		}
		return nil, fmt.Errorf("hf: %s: %s", path, msg)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("hf: %s: trailing data after the JSON object", path)
	}
	return &jsonObject{path: path, m: m}, nil
}

// errf returns a one-line error naming the file and the field.
func (o *jsonObject) errf(field, format string, args ...any) error {
	return fmt.Errorf("hf: %s: field %q: %s", o.path, o.prefix+field, oneLine(fmt.Sprintf(format, args...)))
}

// has reports whether key is present and not null.
func (o *jsonObject) has(key string) bool {
	raw, ok := o.m[key]
	return ok && strings.TrimSpace(string(raw)) != "null"
}

func (o *jsonObject) str(key, def string) (string, error) {
	if !o.has(key) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(o.m[key], &s); err != nil {
		return "", o.errf(key, "want a string, got %s", clip(string(o.m[key])))
	}
	return s, nil
}

// number decodes key as a JSON number.
func (o *jsonObject) number(key string) (float64, string, error) {
	raw := strings.TrimSpace(string(o.m[key]))
	var n json.Number
	if err := json.Unmarshal(o.m[key], &n); err != nil || strings.HasPrefix(raw, `"`) {
		return 0, raw, o.errf(key, "want a number, got %s", clip(raw))
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, raw, o.errf(key, "want a number, got %s", clip(raw))
	}
	return f, raw, nil
}

func (o *jsonObject) arrayLen(key string) (int, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(o.m[key], &a); err != nil {
		return 0, o.errf(key, "want an array, got %s", clip(string(o.m[key])))
	}
	return len(a), nil
}

// object returns the nested object key (empty when absent).
func (o *jsonObject) object(key string) (*jsonObject, error) {
	sub := &jsonObject{path: o.path, prefix: o.prefix + key + ".", m: map[string]json.RawMessage{}}
	if !o.has(key) {
		return sub, nil
	}
	if err := json.Unmarshal(o.m[key], &sub.m); err != nil || sub.m == nil {
		return nil, o.errf(key, "want an object, got %s", clip(string(o.m[key])))
	}
	return sub, nil
}

// fieldReader reads typed fields of an object, keeping the first error so
// that callers can read several fields and check once.
type fieldReader struct {
	o   *jsonObject
	err error
}

func (r *fieldReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// integer reads key as an integral JSON number (64 or 64.0).
func (r *fieldReader) integer(key string) (int64, bool) {
	f, raw, err := r.o.number(key)
	if err != nil {
		r.fail(err)
		return 0, false
	}
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		r.fail(r.o.errf(key, "want an integer, got %s", clip(raw)))
		return 0, false
	}
	if f > MaxSize || f < -MaxSize {
		r.fail(r.o.errf(key, "%s is out of range (limit %d)", clip(raw), MaxSize))
		return 0, false
	}
	return int64(f), true
}

// size reads a required (def 0) or defaulted size field in [min, MaxSize].
func (r *fieldReader) size(key string, def, min int) int {
	if !r.o.has(key) {
		if def == 0 {
			r.fail(r.o.errf(key, "missing"))
		}
		return def
	}
	n, ok := r.integer(key)
	if !ok {
		return def
	}
	if n < int64(min) {
		r.fail(r.o.errf(key, "%d, want at least %d", n, min))
		return def
	}
	return int(n)
}

// count reads an optional non-negative integer (0 when absent).
func (r *fieldReader) count(key string) int {
	if !r.o.has(key) {
		return 0
	}
	n, ok := r.integer(key)
	if ok && n < 0 {
		r.fail(r.o.errf(key, "%d is negative", n))
		return 0
	}
	return int(n)
}

// positive reads a finite positive number (expand may be fractional).
func (r *fieldReader) positive(key string, def float64) float64 {
	if !r.o.has(key) {
		return def
	}
	f, raw, err := r.o.number(key)
	if err != nil {
		r.fail(err)
		return def
	}
	if !(f > 0) || f > MaxSize {
		r.fail(r.o.errf(key, "%s, want a positive number ≤ %d", clip(raw), MaxSize))
		return def
	}
	return f
}

// derived returns int(factor·base), the way the upstream configs compute
// d_inner, checking it is a valid size.
func (r *fieldReader) derived(key string, factor float64, base int) int {
	n := math.Floor(factor * float64(base))
	if n < 1 || n > MaxSize {
		r.fail(r.o.errf(key, "%g × %d = %g, want 1..%d", factor, base, n, MaxSize))
		return 0
	}
	return int(n)
}

// rank reads a Δ rank: a positive integer or "auto" (ceil(dModel/16)),
// the default.
func (r *fieldReader) rank(key string, dModel int) int {
	auto := (dModel + 15) / 16
	if !r.o.has(key) {
		return auto
	}
	var s string
	if json.Unmarshal(r.o.m[key], &s) == nil {
		if s != "auto" {
			r.fail(r.o.errf(key, "%q, want an integer or \"auto\"", clip(s)))
		}
		return auto
	}
	return r.size(key, 0, 1)
}

// eps reads a finite epsilon in [0, 1].
func (r *fieldReader) eps(key string, def float64) float64 {
	if !r.o.has(key) {
		return def
	}
	f, raw, err := r.o.number(key)
	if err != nil {
		r.fail(err)
		return def
	}
	if !(f >= 0 && f <= 1) {
		r.fail(r.o.errf(key, "%s, want a number in [0, 1]", clip(raw)))
		return def
	}
	return f
}

func (r *fieldReader) boolean(key string, def bool) bool {
	if !r.o.has(key) {
		return def
	}
	var b bool
	if err := json.Unmarshal(r.o.m[key], &b); err != nil {
		r.fail(r.o.errf(key, "want true or false, got %s", clip(string(r.o.m[key]))))
		return def
	}
	return b
}

// clip shortens s for an error message and keeps it on one line.
func clip(s string) string {
	r := []rune(oneLine(s))
	if len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return string(r)
}

// oneLine replaces line breaks so that an error stays one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// trimPrefix drops the "hf: " prefix of an error from this package, for
// wrapping it with a file name.
func trimPrefix(err error) string { return strings.TrimPrefix(err.Error(), "hf: ") }
