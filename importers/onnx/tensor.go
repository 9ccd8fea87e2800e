package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ssmc-dev/ssmc/importers/onnx/onnxpb"
	"github.com/ssmc-dev/ssmc/ir"
)

// dtypeOf maps an ONNX element type to the IR's; ok is false for element
// types the IR does not have (unsigned and 16-bit integers, strings,
// complex numbers, 8-, 4- and 2-bit floats and integers).
func dtypeOf(et int32) (ir.DType, bool) {
	switch onnxpb.TensorProto_DataType(et) {
	case onnxpb.TensorProto_FLOAT:
		return ir.F32, true
	case onnxpb.TensorProto_FLOAT16:
		return ir.F16, true
	case onnxpb.TensorProto_BFLOAT16:
		return ir.BF16, true
	case onnxpb.TensorProto_DOUBLE:
		return ir.F64, true
	case onnxpb.TensorProto_INT8:
		return ir.I8, true
	case onnxpb.TensorProto_INT32:
		return ir.I32, true
	case onnxpb.TensorProto_INT64:
		return ir.I64, true
	case onnxpb.TensorProto_BOOL:
		return ir.Bool, true
	}
	return ir.InvalidDType, false
}

// onnxTypeOf is the inverse of dtypeOf.
func onnxTypeOf(dt ir.DType) onnxpb.TensorProto_DataType {
	switch dt {
	case ir.F32:
		return onnxpb.TensorProto_FLOAT
	case ir.F16:
		return onnxpb.TensorProto_FLOAT16
	case ir.BF16:
		return onnxpb.TensorProto_BFLOAT16
	case ir.F64:
		return onnxpb.TensorProto_DOUBLE
	case ir.I8:
		return onnxpb.TensorProto_INT8
	case ir.I32:
		return onnxpb.TensorProto_INT32
	case ir.I64:
		return onnxpb.TensorProto_INT64
	case ir.Bool:
		return onnxpb.TensorProto_BOOL
	}
	return onnxpb.TensorProto_UNDEFINED
}

// elemTypeName names an ONNX element type for messages.
func elemTypeName(et int32) string {
	if n, ok := onnxpb.TensorProto_DataType_name[et]; ok {
		return n
	}
	return "element type " + strconv.Itoa(int(et))
}

// unsupportedDType is the reason given for a tensor of an element type
// the IR does not have.
func unsupportedDType(et int32) error {
	return unsupportedf("element type %s", elemTypeName(et))
}

// tensorReader decodes TensorProtos, resolving external data against the
// model's folder.
type tensorReader struct {
	dir string // the model's folder; "" when the model came from memory
	// budget is the number of bytes external data may still add: the
	// tensors it reads are bounded by the sizes of the files it opens,
	// and all of them together by this.
	budget int64
}

// decode converts t to an IR tensor. Every size is checked against the
// data actually present before anything is allocated.
func (r *tensorReader) decode(t *onnxpb.TensorProto) (*ir.Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("missing tensor")
	}
	et := t.GetDataType()
	dt, ok := dtypeOf(et)
	if !ok {
		return nil, unsupportedDType(et)
	}
	if t.GetSegment() != nil {
		return nil, unsupportedf("segmented tensors")
	}
	shape := append([]int64{}, t.GetDims()...)
	n, err := numElements(shape)
	if err != nil {
		return nil, err
	}
	size := int64(dt.Size())
	if n > math.MaxInt64/size {
		return nil, fmt.Errorf("shape %v is too large", shape)
	}
	want := n * size
	var data []byte
	switch {
	case t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL:
		data, err = r.external(t, want)
	case t.RawData != nil:
		if int64(len(t.RawData)) != want {
			return nil, fmt.Errorf("raw_data has %d bytes, %v%v needs %d", len(t.RawData), dt, shape, want)
		}
		data = append([]byte(nil), t.RawData...)
	default:
		data, err = typedData(t, dt, n)
	}
	if err != nil {
		return nil, err
	}
	if dt == ir.Bool {
		for i, b := range data {
			if b > 1 {
				data[i] = 1
			}
		}
	}
	return ir.NewTensor(dt, shape, data)
}

// numElements returns the product of shape, refusing negative dims and
// products that overflow.
func numElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// typedData encodes the typed field that holds dt's elements (float_data,
// int32_data, int64_data, double_data) as little-endian bytes. Float16 and
// bfloat16 elements travel as the low 16 bits of int32_data, bools and
// 8-bit integers as int32_data values.
func typedData(t *onnxpb.TensorProto, dt ir.DType, n int64) ([]byte, error) {
	count := func(have int) error {
		if int64(have) != n {
			return fmt.Errorf("has %d typed values, the shape %v needs %d", have, t.GetDims(), n)
		}
		return nil
	}
	var out []byte
	switch dt {
	case ir.F32:
		v := t.GetFloatData()
		if err := count(len(v)); err != nil {
			return nil, err
		}
		out = make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
	case ir.F64:
		v := t.GetDoubleData()
		if err := count(len(v)); err != nil {
			return nil, err
		}
		out = make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(x))
		}
	case ir.I64:
		v := t.GetInt64Data()
		if err := count(len(v)); err != nil {
			return nil, err
		}
		out = make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
		}
	case ir.I32, ir.I8, ir.Bool, ir.F16, ir.BF16:
		v := t.GetInt32Data()
		if err := count(len(v)); err != nil {
			return nil, err
		}
		size := dt.Size()
		out = make([]byte, size*len(v))
		for i, x := range v {
			switch size {
			case 4:
				binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
			case 2:
				binary.LittleEndian.PutUint16(out[2*i:], uint16(x))
			case 1:
				out[i] = byte(x)
			}
		}
	}
	return out, nil
}

// external reads a tensor's external data: the file named by "location",
// relative to the model's folder and inside it (symbolic links resolved),
// from "offset" for "length" bytes (default: to the end of the file),
// which must be exactly want bytes and lie within the file.
func (r *tensorReader) external(t *onnxpb.TensorProto, want int64) ([]byte, error) {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil || offset < 0 || (kv.GetKey() == "length" && length < 0) {
			return nil, fmt.Errorf("external data: bad %s %q", kv.GetKey(), clip(kv.GetValue()))
		}
	}
	if loc == "" {
		return nil, fmt.Errorf("external data without a location")
	}
	if r.dir == "" {
		return nil, fmt.Errorf("external data %q: the model was not read from a file", clip(loc))
	}
	path, err := insideDir(r.dir, loc)
	if err != nil {
		return nil, fmt.Errorf("external data %q: %v", clip(loc), err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("external data: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("external data %q is not a regular file", clip(loc))
	}
	if length < 0 {
		length = fi.Size() - offset
	}
	if offset > fi.Size() || length > fi.Size()-offset {
		return nil, fmt.Errorf("external data %q: offset %d + length %d is past the end of the file (%d bytes)", clip(loc), offset, length, fi.Size())
	}
	if length != want {
		return nil, fmt.Errorf("external data %q has %d bytes, the tensor needs %d", clip(loc), length, want)
	}
	if length > r.budget {
		return nil, fmt.Errorf("external data exceeds the limit of %d bytes", r.budget)
	}
	r.budget -= length
	data := make([]byte, length)
	if _, err := f.ReadAt(data, offset); err != nil && !(err == io.EOF && length == 0) {
		return nil, fmt.Errorf("external data %q: %v", clip(loc), err)
	}
	return data, nil
}

// insideDir resolves the relative path loc against dir and checks that
// the result, with symbolic links followed, stays inside dir.
func insideDir(dir, loc string) (string, error) {
	if loc == "" || filepath.IsAbs(loc) || strings.ContainsRune(loc, 0) || filepath.VolumeName(loc) != "" {
		return "", fmt.Errorf("location must be a relative path")
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, filepath.FromSlash(loc))
	if !within(root, path) {
		return "", fmt.Errorf("location is outside the model's folder")
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	if !within(root, real) {
		return "", fmt.Errorf("location leads outside the model's folder")
	}
	return real, nil
}

// within reports whether path is root or below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// tensorProto encodes an IR tensor as a TensorProto with raw_data (for
// tests and tools that write models).
func tensorProto(name string, t *ir.Tensor) *onnxpb.TensorProto {
	dt := int32(onnxTypeOf(t.DType))
	return &onnxpb.TensorProto{Name: &name, DataType: &dt, Dims: append([]int64{}, t.Shape...), RawData: append([]byte{}, t.Data...)}
}
