// Package onnxpb writes and reads the subset of the ONNX protobuf format (onnx/onnx.proto) that xling's
// graphs use, by hand with protowire, so xling needs no generated code and no ONNX toolchain.
//
// Encoding follows onnx.proto's proto2 field numbers. Tensor data is written as raw_data
// (little-endian), which every ONNX reader accepts. The decoder reads models, graphs' initializers
// and metadata_props, and skips everything else.
package onnxpb

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"xling/internal/protowalk"
)

// IRVersion and OpsetVersion are accepted by ONNX Runtime 1.30 and by Debian's python3-onnx 1.12
// (whose checker stops at IR 8 and opset 17).
const (
	IRVersion    = 8
	OpsetVersion = 17
)

// DataType is TensorProto.DataType.
type DataType int32

// The data types xling uses.
const (
	Float DataType = 1
	Int32 DataType = 6
	Int64 DataType = 7
)

// AttrType is AttributeProto.AttributeType.
type AttrType int32

// The attribute types xling uses.
const (
	AttrFloat AttrType = 1
	AttrInt   AttrType = 2
	AttrInts  AttrType = 7
)

// Model is ModelProto.
type Model struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	Opsets          []OpsetID
	Graph           Graph
	Metadata        []StringEntry // metadata_props
}

// OpsetID is OperatorSetIdProto.
type OpsetID struct {
	Domain  string
	Version int64
}

// StringEntry is StringStringEntryProto.
type StringEntry struct{ Key, Value string }

// Graph is GraphProto.
type Graph struct {
	Name         string
	Nodes        []Node
	Initializers []Tensor
	Inputs       []ValueInfo
	Outputs      []ValueInfo
}

// Node is NodeProto.
type Node struct {
	Name       string
	OpType     string
	Domain     string
	Inputs     []string
	Outputs    []string
	Attributes []Attribute
}

// Attribute is AttributeProto for the scalar and list types named by AttrType.
type Attribute struct {
	Name string
	Type AttrType
	F    float32
	I    int64
	Ints []int64
}

// Tensor is TensorProto; Float32 or Int64 holds the data, matching DataType.
type Tensor struct {
	Name     string
	Dims     []int64
	DataType DataType
	Float32  []float32
	Int64    []int64
}

// ValueInfo is ValueInfoProto for a tensor type; a Dim with Param set is symbolic.
type ValueInfo struct {
	Name     string
	ElemType DataType
	Shape    []Dim
}

// Dim is TensorShapeProto.Dimension.
type Dim struct {
	Value int64
	Param string
}

// Marshal encodes m.
func (m *Model) Marshal() []byte {
	return m.append(make([]byte, 0, m.size()))
}

// Messages are built in two passes, size then append, so the weights are copied once, straight
// into the output buffer.

func (m *Model) size() int {
	n := tagSize(1) + protowire.SizeVarint(uint64(m.IRVersion))
	n += stringSize(2, m.ProducerName) + stringSize(3, m.ProducerVersion)
	n += msgSize(7, m.Graph.size())
	for _, o := range m.Opsets {
		n += msgSize(8, o.size())
	}
	for _, e := range m.Metadata {
		n += msgSize(14, e.size())
	}
	return n
}

func (m *Model) append(b []byte) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.IRVersion))
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendMsgHeader(b, 7, m.Graph.size())
	b = m.Graph.append(b)
	for _, o := range m.Opsets {
		b = appendMsgHeader(b, 8, o.size())
		b = o.append(b)
	}
	for _, e := range m.Metadata {
		b = appendMsgHeader(b, 14, e.size())
		b = e.append(b)
	}
	return b
}

func (o OpsetID) size() int {
	return stringSize(1, o.Domain) + tagSize(2) + protowire.SizeVarint(uint64(o.Version))
}

func (o OpsetID) append(b []byte) []byte {
	b = appendString(b, 1, o.Domain)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(o.Version))
}

func (e StringEntry) size() int { return stringSize(1, e.Key) + stringSize(2, e.Value) }

func (e StringEntry) append(b []byte) []byte {
	return appendString(appendString(b, 1, e.Key), 2, e.Value)
}

func (g *Graph) size() int {
	n := 0
	for i := range g.Nodes {
		n += msgSize(1, g.Nodes[i].size())
	}
	n += stringSize(2, g.Name)
	for i := range g.Initializers {
		n += msgSize(5, g.Initializers[i].size())
	}
	for i := range g.Inputs {
		n += msgSize(11, g.Inputs[i].size())
	}
	for i := range g.Outputs {
		n += msgSize(12, g.Outputs[i].size())
	}
	return n
}

func (g *Graph) append(b []byte) []byte {
	for i := range g.Nodes {
		b = appendMsgHeader(b, 1, g.Nodes[i].size())
		b = g.Nodes[i].append(b)
	}
	b = appendString(b, 2, g.Name)
	for i := range g.Initializers {
		b = appendMsgHeader(b, 5, g.Initializers[i].size())
		b = g.Initializers[i].append(b)
	}
	for i := range g.Inputs {
		b = appendMsgHeader(b, 11, g.Inputs[i].size())
		b = g.Inputs[i].append(b)
	}
	for i := range g.Outputs {
		b = appendMsgHeader(b, 12, g.Outputs[i].size())
		b = g.Outputs[i].append(b)
	}
	return b
}

func (nd *Node) size() int {
	n := 0
	for _, s := range nd.Inputs {
		n += tagSize(1) + protowire.SizeBytes(len(s)) // empty names are meaningful (omitted inputs)
	}
	for _, s := range nd.Outputs {
		n += tagSize(2) + protowire.SizeBytes(len(s))
	}
	n += stringSize(3, nd.Name) + stringSize(4, nd.OpType)
	for i := range nd.Attributes {
		n += msgSize(5, nd.Attributes[i].size())
	}
	return n + stringSize(7, nd.Domain)
}

func (nd *Node) append(b []byte) []byte {
	for _, s := range nd.Inputs {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range nd.Outputs {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendString(b, 3, nd.Name)
	b = appendString(b, 4, nd.OpType)
	for i := range nd.Attributes {
		b = appendMsgHeader(b, 5, nd.Attributes[i].size())
		b = nd.Attributes[i].append(b)
	}
	return appendString(b, 7, nd.Domain)
}

func (a *Attribute) size() int {
	n := stringSize(1, a.Name)
	switch a.Type {
	case AttrFloat:
		n += tagSize(2) + 4
	case AttrInt:
		n += tagSize(3) + protowire.SizeVarint(uint64(a.I))
	case AttrInts:
		for _, v := range a.Ints {
			n += tagSize(8) + protowire.SizeVarint(uint64(v))
		}
	}
	return n + tagSize(20) + protowire.SizeVarint(uint64(a.Type))
}

func (a *Attribute) append(b []byte) []byte {
	b = appendString(b, 1, a.Name)
	switch a.Type {
	case AttrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	case AttrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	case AttrInts:
		for _, v := range a.Ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.Type))
}

func (t *Tensor) rawSize() int { return 4*len(t.Float32) + 8*len(t.Int64) }

func (t *Tensor) size() int {
	n := 0
	for _, d := range t.Dims {
		n += tagSize(1) + protowire.SizeVarint(uint64(d))
	}
	n += tagSize(2) + protowire.SizeVarint(uint64(t.DataType))
	n += stringSize(8, t.Name)
	return n + tagSize(9) + protowire.SizeBytes(t.rawSize())
}

func (t *Tensor) append(b []byte) []byte {
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DataType))
	b = appendString(b, 8, t.Name)
	b = protowire.AppendTag(b, 9, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(t.rawSize()))
	for _, v := range t.Float32 {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range t.Int64 {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func (v *ValueInfo) typeSize() (tensorType, shape int) {
	for _, d := range v.Shape {
		shape += msgSize(1, d.size())
	}
	tensorType = tagSize(1) + protowire.SizeVarint(uint64(v.ElemType)) + msgSize(2, shape)
	return tensorType, shape
}

func (v *ValueInfo) size() int {
	tt, _ := v.typeSize()
	return stringSize(1, v.Name) + msgSize(2, msgSize(1, tt))
}

func (v *ValueInfo) append(b []byte) []byte {
	tt, shape := v.typeSize()
	b = appendString(b, 1, v.Name)
	b = appendMsgHeader(b, 2, msgSize(1, tt)) // TypeProto
	b = appendMsgHeader(b, 1, tt)             // TypeProto.Tensor
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(v.ElemType))
	b = appendMsgHeader(b, 2, shape) // TensorShapeProto
	for _, d := range v.Shape {
		b = appendMsgHeader(b, 1, d.size())
		b = d.append(b)
	}
	return b
}

func (d Dim) size() int {
	if d.Param != "" {
		return stringSize(2, d.Param)
	}
	return tagSize(1) + protowire.SizeVarint(uint64(d.Value))
}

func (d Dim) append(b []byte) []byte {
	if d.Param != "" {
		return appendString(b, 2, d.Param)
	}
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(d.Value))
}

func tagSize(num protowire.Number) int { return protowire.SizeTag(num) }

// stringSize is the size of an optional string field: absent when empty.
func stringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return tagSize(num) + protowire.SizeBytes(len(s))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func msgSize(num protowire.Number, n int) int { return tagSize(num) + protowire.SizeBytes(n) }

func appendMsgHeader(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// Unmarshal decodes a model's version, opsets, metadata_props, and its graph's name and initializers
// (with their data copied out of b); other fields are skipped.
func Unmarshal(b []byte) (*Model, error) {
	m := &Model{}
	err := protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		var err error
		switch {
		case num == 1 && typ == protowire.VarintType:
			m.IRVersion = int64(x)
		case num == 2 && typ == protowire.BytesType:
			m.ProducerName = string(v)
		case num == 3 && typ == protowire.BytesType:
			m.ProducerVersion = string(v)
		case num == 7 && typ == protowire.BytesType:
			err = m.Graph.unmarshal(v)
		case num == 8 && typ == protowire.BytesType:
			var o OpsetID
			err = o.unmarshal(v)
			m.Opsets = append(m.Opsets, o)
		case num == 14 && typ == protowire.BytesType:
			var e StringEntry
			err = e.unmarshal(v)
			m.Metadata = append(m.Metadata, e)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decode onnx model: %w", err)
	}
	return m, nil
}

func (o *OpsetID) unmarshal(b []byte) error {
	return protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			o.Domain = string(v)
		case num == 2 && typ == protowire.VarintType:
			o.Version = int64(x)
		}
		return nil
	})
}

func (e *StringEntry) unmarshal(b []byte) error {
	return protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			e.Key = string(v)
		case num == 2 && typ == protowire.BytesType:
			e.Value = string(v)
		}
		return nil
	})
}

func (g *Graph) unmarshal(b []byte) error {
	return protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 2 && typ == protowire.BytesType:
			g.Name = string(v)
		case num == 5 && typ == protowire.BytesType:
			var t Tensor
			if err := t.unmarshal(v); err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, t)
		}
		return nil
	})
}

func (t *Tensor) unmarshal(b []byte) error {
	var raw []byte
	var floats []float32
	var ints []int64
	err := protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1:
			return appendInts(&t.Dims, typ, v, x)
		case num == 2 && typ == protowire.VarintType:
			t.DataType = DataType(x)
		case num == 4:
			return appendFloats(&floats, typ, v, x)
		case num == 7:
			return appendInts(&ints, typ, v, x)
		case num == 8 && typ == protowire.BytesType:
			t.Name = string(v)
		case num == 9 && typ == protowire.BytesType:
			raw = v
		case num == 14 && typ == protowire.VarintType && x != 0:
			return fmt.Errorf("external data is not supported")
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return fmt.Errorf("tensor %q: bad dims %v", t.Name, t.Dims)
		}
		n *= d
	}
	switch t.DataType {
	case Float:
		if raw != nil {
			if int64(len(raw)) != 4*n {
				return fmt.Errorf("tensor %q: %d raw bytes for %d floats", t.Name, len(raw), n)
			}
			floats = make([]float32, n)
			for i := range floats {
				floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		if int64(len(floats)) != n {
			return fmt.Errorf("tensor %q: %d floats for dims %v", t.Name, len(floats), t.Dims)
		}
		t.Float32 = floats
	case Int64:
		if raw != nil {
			if int64(len(raw)) != 8*n {
				return fmt.Errorf("tensor %q: %d raw bytes for %d int64s", t.Name, len(raw), n)
			}
			ints = make([]int64, n)
			for i := range ints {
				ints[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		if int64(len(ints)) != n {
			return fmt.Errorf("tensor %q: %d int64s for dims %v", t.Name, len(ints), t.Dims)
		}
		t.Int64 = ints
	default:
		return fmt.Errorf("tensor %q: unsupported data type %d", t.Name, t.DataType)
	}
	return nil
}

// appendInts accepts a repeated int64 field packed or not, as protobuf parsers must.
func appendInts(dst *[]int64, typ protowire.Type, v []byte, x uint64) error {
	switch typ {
	case protowire.VarintType:
		*dst = append(*dst, int64(x))
	case protowire.BytesType:
		for len(v) > 0 {
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return protowire.ParseError(n)
			}
			*dst = append(*dst, int64(x))
			v = v[n:]
		}
	default:
		return fmt.Errorf("int64 field has wire type %d", typ)
	}
	return nil
}

// appendFloats accepts a repeated float field packed or not.
func appendFloats(dst *[]float32, typ protowire.Type, v []byte, x uint64) error {
	switch typ {
	case protowire.Fixed32Type:
		*dst = append(*dst, math.Float32frombits(uint32(x)))
	case protowire.BytesType:
		if len(v)%4 != 0 {
			return fmt.Errorf("packed floats: %d bytes", len(v))
		}
		for i := 0; i < len(v); i += 4 {
			*dst = append(*dst, math.Float32frombits(binary.LittleEndian.Uint32(v[i:])))
		}
	default:
		return fmt.Errorf("float field has wire type %d", typ)
	}
	return nil
}
