package spm

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// fuzzModel serialises a ModelProto with the given pieces (text, type), model type and byte fallback.
func fuzzModel(modelType int, byteFallback bool, pieces ...Piece) []byte {
	var b []byte
	for _, p := range pieces {
		var pb []byte
		pb = protowire.AppendTag(pb, 1, protowire.BytesType)
		pb = protowire.AppendString(pb, p.Text)
		pb = protowire.AppendTag(pb, 2, protowire.Fixed32Type)
		pb = protowire.AppendFixed32(pb, uint32(int32(-len(b)%97)))
		pb = protowire.AppendTag(pb, 3, protowire.VarintType)
		pb = protowire.AppendVarint(pb, uint64(p.Type))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, pb)
	}
	var ts []byte
	ts = protowire.AppendTag(ts, 3, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(modelType))
	ts = protowire.AppendTag(ts, 35, protowire.VarintType)
	ts = protowire.AppendVarint(ts, protowire.EncodeBool(byteFallback))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, ts)
}

// FuzzParse parses arbitrary bytes as a SentencePiece .model. A model that parses must encode any text
// to ids of its own pieces, the same ids every time.
func FuzzParse(f *testing.F) {
	pieces := []Piece{{"<unk>", 0, Unknown}, {"<s>", 0, Control}, {"▁a", 0, Normal}, {"b", 0, Normal}, {"▁ab", 0, Normal}, {"<mask>", 0, UserDefined}}
	f.Add(fuzzModel(TypeUnigram, false, pieces...), "ab a<mask>b")
	f.Add(fuzzModel(TypeBPE, false, pieces...), "ab ba")
	for b := range 256 {
		pieces = append(pieces, Piece{Text: fmt.Sprintf("<0x%02X>", b), Type: Byte})
	}
	f.Add(fuzzModel(TypeUnigram, true, pieces...), "ab é\x00")
	f.Add(fuzzModel(TypeBPE, true, pieces...), "ab é")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		m, err := Parse(data)
		if err != nil {
			return
		}
		ids := m.Encode(text)
		for _, id := range ids {
			if id < 0 || id >= int64(len(m.Pieces)) {
				t.Fatalf("Encode(%q) = %v: id %d outside the %d pieces", text, ids, id, len(m.Pieces))
			}
		}
		if again := m.Encode(text); !slices.Equal(ids, again) {
			t.Fatalf("Encode(%q) = %v, then %v", text, ids, again)
		}
	})
}
