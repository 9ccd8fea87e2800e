package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

// shardTensors is the content of the test shards, by shard file name.
var shardTensors = map[string][]WriteTensor{
	shard1: {
		{Name: "a", DType: F32, Shape: []int64{2}, Data: le32(0x3f800000, 0x40000000)},
		{Name: "b", DType: I8, Shape: []int64{3}, Data: []byte{1, 2, 3}},
	},
	shard2: {
		{Name: "c", DType: BF16, Shape: []int64{1}, Data: le16(0x4040)},
	},
	"extra.safetensors": {
		{Name: "a", DType: F32, Shape: []int64{1}, Data: le32(0)},
	},
	"corrupt.safetensors": nil, // written as garbage
}

func writeShards(t *testing.T, dir string) {
	t.Helper()
	for name, ts := range shardTensors {
		if ts == nil {
			writeTemp(t, dir, name, rawFile(`{"q":{"dtype":"X","shape":[],"data_offsets":[0,0]}}`, 0))
			continue
		}
		if err := Write(filepath.Join(dir, name), ts, map[string]string{"shard": name}); err != nil {
			t.Fatal(err)
		}
	}
}

const goodMap = `"a":"` + shard1 + `","b":"` + shard1 + `","c":"` + shard2 + `"`

func TestOpenIndex(t *testing.T) {
	tests := []struct {
		name  string
		index string
		want  []string // error substrings besides the index path; nil = success
	}{
		{"good", `{"metadata":{"total_size":13,"format":"pt","x":null},"weight_map":{` + goodMap + `},"extra":[1]}`, nil},
		{"no metadata", `{"weight_map":{` + goodMap + `}}`, nil},
		{"missing shard", `{"weight_map":{"a":"` + shard1 + `","b":"` + shard1 + `","c":"model-00003-of-00003.safetensors"}}`,
			[]string{`shard "model-00003-of-00003.safetensors"`, "no such file"}},
		{"tensor in wrong shard", `{"weight_map":{"a":"` + shard2 + `","b":"` + shard1 + `","c":"` + shard2 + `"}}`,
			[]string{`tensor "a"`, `names shard "` + shard2 + `"`, `found in shard "` + shard1 + `"`}},
		{"tensor in no shard", `{"weight_map":{` + goodMap + `,"d":"` + shard2 + `"}}`,
			[]string{`tensor "d"`, "does not contain it"}},
		{"shard tensor not listed", `{"weight_map":{"a":"` + shard1 + `","c":"` + shard2 + `"}}`,
			[]string{`tensor "b"`, "missing from weight_map"}},
		{"tensor in two shards", `{"weight_map":{` + goodMap + `,"x":"extra.safetensors"}}`,
			[]string{`tensor "a"`, "both shard"}},
		{"corrupt shard", `{"weight_map":{"q":"corrupt.safetensors"}}`,
			[]string{"corrupt.safetensors", `tensor "q": dtype`}},
		{"path traversal", `{"weight_map":{"a":"../` + shard1 + `"}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"subdirectory", `{"weight_map":{"a":"sub/` + shard1 + `"}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"backslash", `{"weight_map":{"a":"..\\` + shard1 + `"}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"absolute", `{"weight_map":{"a":"/etc/passwd"}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"dot dot", `{"weight_map":{"a":".."}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"empty shard name", `{"weight_map":{"a":""}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"NUL in shard name", `{"weight_map":{"a":"x\u0000y"}}`, []string{`weight_map["a"]`, "not a plain file name"}},
		{"duplicate weight_map key", `{"weight_map":{` + goodMap + `,"a":"` + shard1 + `"}}`, []string{"weight_map", `duplicate key "a"`}},
		{"duplicate top-level key", `{"weight_map":{` + goodMap + `},"weight_map":{}}`, []string{"index", `duplicate key "weight_map"`}},
		{"missing weight_map", `{"metadata":{}}`, []string{"weight_map", "missing"}},
		{"weight_map not object", `{"weight_map":[]}`, []string{"weight_map", "not a JSON object"}},
		{"shard not string", `{"weight_map":{"a":1}}`, []string{`weight_map["a"]`, "not a string"}},
		{"invalid JSON", `{"weight_map":{`, []string{"weight_map", "invalid JSON"}},
		{"not an object", `[]`, []string{"index", "not a JSON object"}},
		{"trailing data", `{"weight_map":{` + goodMap + `}} {}`, []string{"index", "after the JSON object"}},
		{"bad metadata value", `{"metadata":{"k":tru},"weight_map":{}}`, []string{`metadata["k"]`, "invalid JSON"}},
	}
	dir := t.TempDir()
	writeShards(t, dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, dir, IndexFileName, []byte(tt.index))
			s, err := OpenIndex(path)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				checkSharded(t, s)
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("OpenIndex succeeded; want error containing %q", tt.want)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range append([]string{path}, tt.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

func checkSharded(t *testing.T, s *Sharded) {
	t.Helper()
	var names []string
	for _, ti := range s.Tensors() {
		names = append(names, ti.Name)
	}
	if got := strings.Join(names, ","); got != "a,b,c" {
		t.Errorf("tensors = %s, want a,b,c", got)
	}
	if got := strings.Join(s.Shards(), ","); got != shard1+","+shard2 {
		t.Errorf("shards = %s", got)
	}
	for _, shard := range []string{shard1, shard2} {
		for _, wt := range shardTensors[shard] {
			b, err := s.Bytes(wt.Name)
			if err != nil || !bytes.Equal(b, wt.Data) {
				t.Errorf("Bytes(%s) = %v, %v", wt.Name, b, err)
			}
			if ti, ok := s.Tensor(wt.Name); !ok || ti.DType != wt.DType {
				t.Errorf("Tensor(%s) = %+v, %v", wt.Name, ti, ok)
			}
		}
	}
	if v, err := s.Float32s("c"); err != nil || len(v) != 1 || v[0] != 3 {
		t.Errorf("Float32s(c) = %v, %v", v, err)
	}
	if _, err := s.Float32s("b"); err == nil {
		t.Error("Float32s of I8 succeeded")
	}
	if _, err := s.Bytes("zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Bytes(zz) error = %v", err)
	}
	if m := s.Metadata(); m != nil && (m["total_size"] != "13" || m["format"] != "pt" || m["x"] != "null") {
		t.Errorf("metadata = %q", m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bytes("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bytes after Close error = %v", err)
	}
}

func TestOpenDir(t *testing.T) {
	single := WriteTensor{Name: "only", DType: I8, Shape: []int64{1}, Data: []byte{9}}
	index := []byte(`{"weight_map":{` + goodMap + `}}`)
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string)
		want      string // tensor names, or "error"
		wantShard bool
	}{
		{"single", func(t *testing.T, dir string) {
			if err := Write(filepath.Join(dir, SingleFileName), []WriteTensor{single}, nil); err != nil {
				t.Fatal(err)
			}
		}, "only", false},
		{"sharded", func(t *testing.T, dir string) {
			writeShards(t, dir)
			writeTemp(t, dir, IndexFileName, index)
		}, "a,b,c", true},
		{"both prefers single", func(t *testing.T, dir string) {
			writeShards(t, dir)
			writeTemp(t, dir, IndexFileName, index)
			if err := Write(filepath.Join(dir, SingleFileName), []WriteTensor{single}, nil); err != nil {
				t.Fatal(err)
			}
		}, "only", false},
		{"neither", func(t *testing.T, dir string) {}, "error", false},
		{"broken single", func(t *testing.T, dir string) { writeTemp(t, dir, SingleFileName, []byte("x")) }, "error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			r, err := OpenDir(dir)
			if tt.want == "error" {
				if err == nil || r != nil || !strings.Contains(err.Error(), dir) {
					t.Fatalf("OpenDir = %v, %v; want nil reader and error naming %s", r, err, dir)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, ok := r.(*Sharded); ok != tt.wantShard {
				t.Errorf("OpenDir returned %T", r)
			}
			var names []string
			for _, ti := range r.Tensors() {
				names = append(names, ti.Name)
			}
			if got := strings.Join(names, ","); got != tt.want {
				t.Errorf("tensors = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIndexTooLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, IndexFileName)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxIndexSize + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	if _, err := OpenIndex(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("OpenIndex error = %v", err)
	}
}
