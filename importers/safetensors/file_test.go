package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRoundTripEveryDType(t *testing.T) {
	tests := []struct {
		dtype DType
		shape []int64
		data  []byte
	}{
		{F32, []int64{2, 2}, le32(0x3f800000, 0xc0200000, 0x7f800000, 0x00000001)},
		{F16, []int64{3}, le16(0x3c00, 0xc100, 0x0001)},
		{BF16, []int64{1, 3}, le16(0x3f80, 0xc020, 0x7fc0)},
		{F64, []int64{2}, le64(math.Float64bits(1), math.Float64bits(-2.5))},
		{I8, []int64{4}, []byte{0, 1, 0x7f, 0x80}},
		{I32, []int64{2, 1}, le32(1, 0xffffffff)},
		{I64, []int64{1}, le64(0x8000000000000000)},
		{U8, []int64{2, 2, 1}, []byte{0, 1, 254, 255}},
		{Bool, []int64{3}, []byte{0, 1, 1}},
		{F32, []int64{}, le32(0x40490fdb)},    // scalar
		{F32, []int64{0, 5}, nil},             // zero-size
		{I64, []int64{3, 0}, []byte{}},        // zero-size, non-nil data
		{BF16, []int64{2, 0, 7}, []byte(nil)}, // zero-size, rank 3
	}
	if len(DTypes()) != 9 {
		t.Fatalf("DTypes has %d entries; extend this test", len(DTypes()))
	}
	covered := map[DType]bool{}
	var all []WriteTensor
	for i, tt := range tests {
		covered[tt.dtype] = true
		wt := WriteTensor{Name: string(tt.dtype) + "." + string(rune('a'+i)), DType: tt.dtype, Shape: tt.shape, Data: tt.data}
		all = append(all, wt)
		t.Run(wt.Name, func(t *testing.T) {
			checkRoundTrip(t, []WriteTensor{wt}, map[string]string{"dtype": string(tt.dtype)})
		})
	}
	for _, d := range DTypes() {
		if !covered[d] {
			t.Errorf("dtype %s not covered", d)
		}
	}
	t.Run("all", func(t *testing.T) { checkRoundTrip(t, all, nil) })
}

func checkRoundTrip(t *testing.T, tensors []WriteTensor, meta map[string]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := Write(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-aligned", 8+n)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), raw) {
		t.Error("Encode and Write output differ")
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Metadata(); len(meta) > 0 && !reflect.DeepEqual(got, meta) {
		t.Errorf("metadata = %v, want %v", got, meta)
	}
	infos := f.Tensors()
	if len(infos) != len(tensors) {
		t.Fatalf("got %d tensors, want %d", len(infos), len(tensors))
	}
	if !slices.IsSortedFunc(infos, func(a, b TensorInfo) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Tensors() not sorted by name")
	}
	for _, wt := range tensors {
		info, ok := f.Tensor(wt.Name)
		if !ok {
			t.Fatalf("tensor %q missing", wt.Name)
		}
		if info.DType != wt.DType || !slices.Equal(info.Shape, wt.Shape) || info.Length != int64(len(wt.Data)) {
			t.Errorf("%s: info %+v does not match written %s %v (%d bytes)", wt.Name, info, wt.DType, wt.Shape, len(wt.Data))
		}
		if info.NumElements()*int64(wt.DType.Size()) != info.Length {
			t.Errorf("%s: NumElements %d inconsistent with Length %d", wt.Name, info.NumElements(), info.Length)
		}
		b, err := f.Bytes(wt.Name)
		if err != nil || !bytes.Equal(b, wt.Data) {
			t.Errorf("%s: Bytes = %v, %v; want %v", wt.Name, b, err, wt.Data)
		}
		fl, err := f.Float32s(wt.Name)
		if wt.DType.IsFloat() != (err == nil) {
			t.Errorf("%s: Float32s error = %v", wt.Name, err)
		}
		if err == nil && int64(len(fl)) != info.NumElements() {
			t.Errorf("%s: Float32s returned %d values, want %d", wt.Name, len(fl), info.NumElements())
		}
	}
}

func TestEncodeDeterministic(t *testing.T) {
	a := WriteTensor{Name: "a", DType: F32, Shape: []int64{1}, Data: le32(1)}
	b := WriteTensor{Name: "b", DType: I8, Shape: []int64{3}, Data: []byte{1, 2, 3}}
	c := WriteTensor{Name: "c", DType: F16, Shape: []int64{1}, Data: le16(2)}
	meta := map[string]string{"z": "1", "a": "2", "m": "<&>"}
	var first []byte
	for _, order := range [][]WriteTensor{{a, b, c}, {c, b, a}, {b, c, a}} {
		var buf bytes.Buffer
		if err := Encode(&buf, order, meta); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("output depends on input order:\n%q\n%q", first, buf.Bytes())
		}
	}
	want := `{"__metadata__":{"a":"2","m":"\u003c\u0026\u003e","z":"1"},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"b":{"dtype":"I8","shape":[3],"data_offsets":[4,7]},` +
		`"c":{"dtype":"F16","shape":[1],"data_offsets":[7,9]}}`
	n := binary.LittleEndian.Uint64(first)
	if got := strings.TrimRight(string(first[8:8+n]), " "); got != want {
		t.Errorf("header\n got %s\nwant %s", got, want)
	}
	if data := first[8+n:]; !bytes.Equal(data, []byte{1, 0, 0, 0, 1, 2, 3, 2, 0}) {
		t.Errorf("data section = %v", data)
	}
}

func TestFloat32s(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tensors := []WriteTensor{
		{Name: "f32", DType: F32, Shape: []int64{3}, Data: le32(math.Float32bits(1.5), math.Float32bits(-inf), math.Float32bits(nan))},
		{Name: "f16", DType: F16, Shape: []int64{4}, Data: le16(0x3c00, 0xc100, 0x0001, 0x7c00)},
		{Name: "bf16", DType: BF16, Shape: []int64{3}, Data: le16(0x3f80, 0xc020, 0xff80)},
		{Name: "f64", DType: F64, Shape: []int64{3}, Data: le64(math.Float64bits(0.1), math.Float64bits(1e300), math.Float64bits(math.NaN()))},
		{Name: "i32", DType: I32, Shape: []int64{1}, Data: le32(7)},
	}
	want := map[string][]float32{
		"f32":  {1.5, -inf, nan},
		"f16":  {1, -2.5, 5.9604645e-08, inf},
		"bf16": {1, -2.5, -inf},
		"f64":  {0.1, inf, nan},
	}
	path := filepath.Join(t.TempDir(), "floats.safetensors")
	if err := Write(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		got, err := f.Float32s(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		same := func(a, b float32) bool { return a == b || (a != a && b != b) }
		if !slices.EqualFunc(got, w, same) {
			t.Errorf("%s: got %v, want %v", name, got, w)
		}
	}
	if _, err := f.Float32s("i32"); err == nil || !strings.Contains(err.Error(), `"i32"`) || !strings.Contains(err.Error(), path) {
		t.Errorf("Float32s(i32) error = %v", err)
	}
	if _, err := f.Bytes("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Bytes(nope) error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bytes("f32"); !errors.Is(err, ErrClosed) {
		t.Errorf("Bytes after Close error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestValidEdgeCases accepts unusual but well-formed files.
func TestValidEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		dataLen int
		tensors int
	}{
		{"empty object", `{}`, 0, 0},
		{"padded header", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      `, 4, 1},
		{"whitespace and field order", "{ \"a\" : {\"data_offsets\":[0,2],\n\"shape\":[1],\"dtype\":\"I16x\"}}", 2, -1},
		{"field order", `{"a":{"data_offsets":[0,2],"shape":[2],"dtype":"I8"}}`, 2, 1},
		{"scalar", `{"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, 8, 1},
		{"zero-size tensors share offsets", `{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"I8","shape":[0,3],"data_offsets":[2,2]}}`, 4, 3},
		{"gaps and trailing data", `{"a":{"dtype":"I8","shape":[1],"data_offsets":[3,4]}}`, 10, 1},
		{"empty metadata", `{"__metadata__":{}}`, 0, 0},
		{"escaped name", `{"a\u00e9\n":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1, 1},
		{"huge zero-size shape", `{"z":{"dtype":"F64","shape":[0,576460752303423488],"data_offsets":[0,0]}}`, 0, 1},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTemp(t, dir, "edge.safetensors", rawFile(tt.header, tt.dataLen))
			f, err := Open(path)
			if tt.tensors < 0 {
				if err == nil {
					t.Fatal("unknown dtype accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := len(f.Tensors()); got != tt.tensors {
				t.Errorf("got %d tensors, want %d", got, tt.tensors)
			}
			for _, info := range f.Tensors() {
				if b, err := f.Bytes(info.Name); err != nil || int64(len(b)) != info.Length {
					t.Errorf("%s: Bytes = %d bytes, %v", info.Name, len(b), err)
				}
			}
		})
	}
}

// TestReadFallback exercises the in-memory path used when mmap fails.
func TestReadFallback(t *testing.T) {
	f, err := newFile("mem", rawFile(`{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, 2))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := f.Bytes("a"); err != nil || !bytes.Equal(b, []byte{0, 1}) {
		t.Errorf("Bytes = %v, %v", b, err)
	}
	if b, _ := f.Bytes("a"); cap(b) != len(b) {
		t.Error("Bytes slice capacity extends past the tensor")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBytesZeroCopy(t *testing.T) {
	path := writeTemp(t, t.TempDir(), "z.safetensors", rawFile(`{"a":{"dtype":"I8","shape":[3],"data_offsets":[1,4]}}`, 4))
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b1, _ := f.Bytes("a")
	b2, _ := f.Bytes("a")
	if &b1[0] != &b2[0] || &b1[0] != &f.buf[8+len(`{"a":{"dtype":"I8","shape":[3],"data_offsets":[1,4]}}`)+1] {
		t.Error("Bytes copies instead of slicing the file buffer")
	}
	if !bytes.Equal(b1, []byte{1, 2, 3}) || cap(b1) != 3 {
		t.Errorf("Bytes = %v (cap %d)", b1, cap(b1))
	}
}

func TestOpenNotRegular(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open(dir) error = %v", err)
	}
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := Open(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing) error = %v", err)
	}
}

func TestReferenceModel(t *testing.T) {
	const path = "../../../shared/reference/tiny-mamba/model.safetensors"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("reference model not available: %v", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, ok := f.Tensor("backbone.layers.0.mixer.A_log")
	if !ok {
		t.Fatal("backbone.layers.0.mixer.A_log missing")
	}
	if info.DType != F32 || !slices.Equal(info.Shape, []int64{128, 16}) {
		t.Errorf("A_log = %s %v, want F32 [128 16]", info.DType, info.Shape)
	}
	var total int64
	for _, ti := range f.Tensors() {
		if ti.DType != F32 {
			t.Errorf("%s: dtype %s, want F32", ti.Name, ti.DType)
		}
		v, err := f.Float32s(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s: non-finite value %v", ti.Name, x)
			}
		}
		total += ti.NumElements()
	}
	if len(f.Tensors()) < 10 || total == 0 {
		t.Errorf("only %d tensors, %d elements", len(f.Tensors()), total)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata())
	}
	// Rewriting the reference model yields an equivalent file.
	var wts []WriteTensor
	for _, ti := range f.Tensors() {
		b, _ := f.Bytes(ti.Name)
		wts = append(wts, WriteTensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: b})
	}
	checkRoundTrip(t, wts, f.Metadata())
}
