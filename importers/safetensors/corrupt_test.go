package safetensors

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// entry formats a tensor entry for hand-written headers.
func entry(name, dtype, shape, offsets string) string {
	return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
}

func TestCorruptFiles(t *testing.T) {
	withLen := func(n uint64, rest string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, n)
		return append(b, rest...)
	}
	hdr := func(h string, dataLen int) []byte { return rawFile(h, dataLen) }
	ok := entry("ok", "F32", "[1]", "[0,4]")
	tests := []struct {
		name    string
		content []byte
		want    []string // substrings besides the file path
	}{
		{"empty file", nil, []string{"header length", "too short"}},
		{"truncated header length", []byte{1, 0, 0}, []string{"header length", "too short"}},
		{"header longer than file", withLen(100, `{}`), []string{"header length", "exceeds"}},
		{"header length huge", withLen(1<<63, `{}`), []string{"header length", "limit"}},
		{"header length over limit", withLen(MaxHeaderSize+1, `{}`), []string{"header length", "limit"}},
		{"empty header", hdr(``, 0), []string{"header", "invalid JSON"}},
		{"invalid JSON", hdr(`{1:2}`, 0), []string{"header", "invalid JSON"}},
		{"missing colon", hdr(`{"a" 1}`, 0), []string{`tensor "a"`, "invalid JSON"}},
		{"truncated JSON", hdr(`{"w":{"dtype":"F32"`, 4), []string{`tensor "w"`, "invalid JSON"}},
		{"non-object JSON array", hdr(`[1,2]`, 0), []string{"header", "not a JSON object"}},
		{"non-object JSON string", hdr(`"x"`, 0), []string{"header", "not a JSON object"}},
		{"non-object JSON null", hdr(`null`, 0), []string{"header", "not a JSON object"}},
		{"trailing object", hdr(`{}{}`, 0), []string{"header", "after the JSON object"}},
		{"trailing garbage", hdr(`{} x`, 0), []string{"header", "after the JSON object"}},
		{"trailing NUL padding", hdr("{}\x00", 0), []string{"header", "after the JSON object"}},
		{"invalid UTF-8", hdr("{\"w\xff\":{}}", 0), []string{"header", "UTF-8"}},
		{"entry not object", hdr(`{"w":3}`, 0), []string{`tensor "w"`, "not a JSON object"}},
		{"empty tensor name", hdr(`{`+entry("", "F32", "[1]", "[0,4]")+`}`, 4), []string{`tensor ""`, "empty"}},
		{"unknown dtype", hdr(`{`+entry("w", "F8_E4M3", "[1]", "[0,1]")+`}`, 1), []string{`tensor "w": dtype`, "F8_E4M3"}},
		{"long name kept in error", hdr(`{`+entry(strings.Repeat("n", 120), "Q", "[1]", "[0,1]")+`}`, 1), []string{`tensor "` + strings.Repeat("n", 120) + `": dtype`}},
		{"lowercase dtype", hdr(`{`+entry("w", "f32", "[1]", "[0,4]")+`}`, 4), []string{`tensor "w": dtype`, `"f32"`}},
		{"dtype not string", hdr(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), []string{`tensor "w": dtype`, "not a string"}},
		{"missing shape", hdr(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), []string{`tensor "w"`, `missing field "shape"`}},
		{"missing dtype", hdr(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), []string{`tensor "w"`, `missing field "dtype"`}},
		{"missing data_offsets", hdr(`{"w":{"dtype":"F32","shape":[1]}}`, 4), []string{`tensor "w"`, `missing field "data_offsets"`}},
		{"unknown field", hdr(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), []string{`tensor "w"`, `unknown field "x"`}},
		{"duplicate field", hdr(`{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), []string{`tensor "w"`, `duplicate key "dtype"`}},
		{"negative dim", hdr(`{`+entry("w", "F32", "[2,-1]", "[0,4]")+`}`, 4), []string{`tensor "w": shape`, "negative dimension -1"}},
		{"fractional dim", hdr(`{`+entry("w", "F32", "[1.5]", "[0,4]")+`}`, 4), []string{`tensor "w": shape[0]`, "not an integer"}},
		{"exponent dim", hdr(`{`+entry("w", "F32", "[1e0]", "[0,4]")+`}`, 4), []string{`tensor "w": shape[0]`, "not an integer"}},
		{"string dim", hdr(`{`+entry("w", "F32", `["1"]`, "[0,4]")+`}`, 4), []string{`tensor "w": shape[0]`, "not an integer"}},
		{"dim beyond int64", hdr(`{`+entry("w", "I8", "[99999999999999999999]", "[0,1]")+`}`, 1), []string{`tensor "w": shape[0]`, "int64 range"}},
		{"shape not array", hdr(`{`+entry("w", "F32", `{}`, "[0,4]")+`}`, 4), []string{`tensor "w": shape`, "not an array"}},
		{"rank too high", hdr(`{`+entry("w", "I8", "["+strings.Repeat("1,", MaxRank)+"1]", "[0,1]")+`}`, 1), []string{`tensor "w": shape`, "more than 64"}},
		{"huge shape overflows int64", hdr(`{`+entry("w", "F32", "[4294967296,4294967296]", "[0,4]")+`}`, 4), []string{`tensor "w": shape`, "overflows"}},
		{"dtype size overflows int64", hdr(`{`+entry("w", "F64", "[2305843009213693952]", "[0,8]")+`}`, 8), []string{`tensor "w": shape`, "overflows"}},
		{"overflow hidden behind zero dim", hdr(`{`+entry("w", "F32", "[4294967296,4294967296,0]", "[0,0]")+`}`, 0), []string{`tensor "w": shape`, "overflows"}},
		{"shape/offset size mismatch", hdr(`{`+entry("w", "F32", "[2,3]", "[0,20]")+`}`, 24), []string{`tensor "w": data_offsets`, "needs 24"}},
		{"zero-size with bytes", hdr(`{`+entry("w", "F32", "[0]", "[0,4]")+`}`, 4), []string{`tensor "w": data_offsets`, "needs 0"}},
		{"begin after end", hdr(`{`+entry("w", "I8", "[1]", "[4,3]")+`}`, 4), []string{`tensor "w": data_offsets`, "begin 4 > end 3"}},
		{"negative offset", hdr(`{`+entry("w", "I8", "[1]", "[-1,0]")+`}`, 4), []string{`tensor "w": data_offsets`, "negative"}},
		{"offset beyond int64", hdr(`{`+entry("w", "I8", "[1]", "[18446744073709551615,0]")+`}`, 4), []string{`tensor "w": data_offsets[0]`, "int64 range"}},
		{"offsets past end", hdr(`{`+entry("w", "F32", "[2]", "[4,12]")+`}`, 8), []string{`tensor "w": data_offsets`, "past the data section"}},
		{"offsets one element", hdr(`{`+entry("w", "F32", "[1]", "[4]")+`}`, 8), []string{`tensor "w": data_offsets`, "exactly 2"}},
		{"offsets three elements", hdr(`{`+entry("w", "F32", "[1]", "[0,4,8]")+`}`, 8), []string{`tensor "w": data_offsets`, "more than 2"}},
		{"offsets not array", hdr(`{`+entry("w", "F32", "[1]", "4")+`}`, 8), []string{`tensor "w": data_offsets`, "not an array"}},
		{"overlapping ranges", hdr(`{`+entry("a", "F32", "[2]", "[0,8]")+`,`+entry("b", "F32", "[1]", "[4,8]")+`}`, 8),
			[]string{`tensor "b": data_offsets`, `overlaps tensor "a"`}},
		{"identical ranges", hdr(`{`+ok+`,`+entry("w", "I32", "[1]", "[0,4]")+`}`, 4), []string{`tensor "w": data_offsets`, `overlaps tensor "ok"`}},
		{"nested range", hdr(`{`+entry("big", "I8", "[10]", "[0,10]")+`,`+entry("x", "I8", "[1]", "[9,10]")+`,`+entry("y", "I8", "[2]", "[10,12]")+`}`, 12),
			[]string{`tensor "x": data_offsets`, `overlaps tensor "big"`}},
		{"duplicate tensor key", hdr(`{`+ok+`,`+entry("ok", "F32", "[1]", "[4,8]")+`}`, 8), []string{"header", `duplicate key "ok"`}},
		{"duplicate via escape", hdr(`{`+ok+`,`+entry(`\u006fk`, "F32", "[1]", "[4,8]")+`}`, 8), []string{"header", `duplicate key "ok"`}},
		{"metadata not object", hdr(`{"__metadata__":[1],`+ok+`}`, 4), []string{"__metadata__", "not a JSON object"}},
		{"metadata null", hdr(`{"__metadata__":null}`, 0), []string{"__metadata__", "not a JSON object"}},
		{"metadata non-string value", hdr(`{"__metadata__":{"k":1}}`, 0), []string{`__metadata__["k"]`, "not a string"}},
		{"metadata nested value", hdr(`{"__metadata__":{"k":{"a":"b"}}}`, 0), []string{`__metadata__["k"]`, "not a string"}},
		{"metadata duplicate key", hdr(`{"__metadata__":{"k":"a","k":"b"}}`, 0), []string{"__metadata__", `duplicate key "k"`}},
		{"metadata twice", hdr(`{"__metadata__":{},"__metadata__":{}}`, 0), []string{"header", `duplicate key "__metadata__"`}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, dir, "corrupt-"+strings.NewReplacer(" ", "_", "/", "_").Replace(tt.name)+".safetensors", tt.content)
			f, err := Open(path)
			if err == nil {
				f.Close()
				t.Fatalf("Open succeeded; want error containing %q", tt.want)
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
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, want *FormatError", err)
			}
		})
	}
}

func TestErrorIsOneLine(t *testing.T) {
	e := &FormatError{Path: "a\nb", Field: "f", Msg: "m\r"}
	if got := e.Error(); got != `safetensors: a\nb: f: m\r` {
		t.Errorf("Error() = %q", got)
	}
}
