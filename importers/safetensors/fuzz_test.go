package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func FuzzSafetensors(f *testing.F) {
	var valid bytes.Buffer
	err := Encode(&valid, []WriteTensor{
		{Name: "a", DType: F16, Shape: []int64{2}, Data: le16(0x3c00, 0x7e00)},
		{Name: "b", DType: BF16, Shape: []int64{1, 1}, Data: le16(0xc020)},
		{Name: "c", DType: F64, Shape: []int64{}, Data: le64(1)},
		{Name: "d", DType: Bool, Shape: []int64{0}},
	}, map[string]string{"k": "v"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid.Bytes())
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  `, 8))
	f.Add(rawFile(`{}`, 0))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[1],"data_offsets":[4,5]}}`, 8))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{}}`, 4))
	f.Add(rawFile(`{"__metadata__":{"a":1}}`, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	// Inputs run one at a time within each fuzzing process, so one
	// scratch file per process suffices.
	path := filepath.Join(f.TempDir(), "fuzz.safetensors")
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		sf, err := Open(path)
		if err != nil {
			if sf != nil {
				t.Fatal("Open returned both a File and an error")
			}
			return
		}
		defer sf.Close()
		checkConsistent(t, sf, int64(len(content)))
		// Whatever we accept, we can write back and read again unchanged.
		var wts []WriteTensor
		for _, ti := range sf.Tensors() {
			b, _ := sf.Bytes(ti.Name)
			wts = append(wts, WriteTensor{Name: ti.Name, DType: ti.DType, Shape: ti.Shape, Data: b})
		}
		var out bytes.Buffer
		if err := Encode(&out, wts, sf.Metadata()); err != nil {
			t.Fatalf("rewrite failed: %v", err)
		}
		again, err := newFile("rewritten", out.Bytes())
		if err != nil {
			t.Fatalf("reopening rewritten file: %v", err)
		}
		defer again.Close()
		if len(sf.Metadata()) > 0 && !reflect.DeepEqual(again.Metadata(), sf.Metadata()) {
			t.Fatalf("metadata changed: %q -> %q", sf.Metadata(), again.Metadata())
		}
		for _, ti := range sf.Tensors() {
			a, _ := sf.Bytes(ti.Name)
			b, err := again.Bytes(ti.Name)
			got, _ := again.Tensor(ti.Name)
			if err != nil || !bytes.Equal(a, b) || got.DType != ti.DType || !slices.Equal(got.Shape, ti.Shape) {
				t.Fatalf("%q changed on rewrite", ti.Name)
			}
		}
	})
}

// checkConsistent verifies the invariants every successfully opened file
// must satisfy.
func checkConsistent(t *testing.T, f *File, fileSize int64) {
	infos := f.Tensors()
	dataLen := int64(len(f.data))
	if dataLen > fileSize-8 {
		t.Fatalf("data section %d bytes in a %d-byte file", dataLen, fileSize)
	}
	for i, ti := range infos {
		if i > 0 && infos[i-1].Name >= ti.Name {
			t.Fatalf("tensors not sorted/unique: %q, %q", infos[i-1].Name, ti.Name)
		}
		if !ti.DType.Valid() || ti.Offset < 0 || ti.Length < 0 || ti.Offset+ti.Length > dataLen {
			t.Fatalf("bad tensor info %+v (data %d bytes)", ti, dataLen)
		}
		if ti.NumElements()*int64(ti.DType.Size()) != ti.Length {
			t.Fatalf("%q: %d elements of %s in %d bytes", ti.Name, ti.NumElements(), ti.DType, ti.Length)
		}
		if got, ok := f.Tensor(ti.Name); !ok || !reflect.DeepEqual(got, ti) {
			t.Fatalf("Tensor(%q) = %+v, %v; want %+v", ti.Name, got, ok, ti)
		}
		b, err := f.Bytes(ti.Name)
		if err != nil || int64(len(b)) != ti.Length {
			t.Fatalf("Bytes(%q) = %d bytes, %v; want %d", ti.Name, len(b), err, ti.Length)
		}
		v, err := f.Float32s(ti.Name)
		if ti.DType.IsFloat() {
			if err != nil || int64(len(v)) != ti.NumElements() {
				t.Fatalf("Float32s(%q) = %d values, %v", ti.Name, len(v), err)
			}
		} else if err == nil {
			t.Fatalf("Float32s(%q) of %s succeeded", ti.Name, ti.DType)
		}
	}
	for j := 1; j < len(infos); j++ {
		for i := 0; i < j && len(infos) < 64; i++ {
			a, b := infos[i], infos[j]
			if a.Length > 0 && b.Length > 0 && a.Offset < b.Offset+b.Length && b.Offset < a.Offset+a.Length {
				t.Fatalf("%q and %q overlap", a.Name, b.Name)
			}
		}
	}
}

// FuzzIndex checks that index parsing never panics and that accepted
// indexes only name plain, non-empty tensors.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":13},"weight_map":{"a":"x.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x"},"weight_map":{}}`))
	f.Add([]byte(`{"metadata":{"k":[1,{"a":null}]},"weight_map":{},"other":"x"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		wm, _, err := parseIndex("index.json", doc)
		if err != nil {
			return
		}
		if wm == nil {
			t.Fatal("accepted index without weight_map")
		}
		for tensor := range wm {
			if tensor == "" {
				t.Fatal("accepted empty tensor name")
			}
		}
	})
}
