// Package spm reads SentencePiece .model files and encodes text with them exactly as SentencePiece
// does, for unigram and BPE models. Its normaliser (the precompiled charsmap) and unigram segmenter
// are shared with xling/tokenizer/hf, which reads the same models from tokenizer.json.
package spm

import (
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"

	"xling/internal/protowalk"
)

// MaxModelBytes bounds the size of a .model file that Load reads.
const MaxModelBytes = 64 << 20

// PieceType is SentencePiece's ModelProto.SentencePiece.Type.
type PieceType int32

// Piece types, with SentencePiece's numbering.
const (
	Normal      PieceType = 1
	Unknown     PieceType = 2
	Control     PieceType = 3
	UserDefined PieceType = 4
	Unused      PieceType = 5
	Byte        PieceType = 6
)

// Piece is one vocabulary entry; its id is its index.
type Piece struct {
	Text  string
	Score float32
	Type  PieceType
}

// Model types, with SentencePiece's TrainerSpec numbering.
const (
	TypeUnigram = 1
	TypeBPE     = 2
)

// Model is a loaded SentencePiece model.
type Model struct {
	Pieces       []Piece
	ModelType    int32
	ByteFallback bool
	Normalizer   Normalizer
	// CharsmapBlob is the raw precompiled charsmap (empty for the identity map).
	CharsmapBlob []byte

	unkID   int32
	unigram *Unigram
	bpe     *bpe
}

// Load reads and parses a SentencePiece .model file.
func Load(path string) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load sentencepiece model: %w", err)
	}
	if fi.Size() > MaxModelBytes {
		return nil, fmt.Errorf("load sentencepiece model %s: %d bytes exceeds the %d-byte limit", path, fi.Size(), MaxModelBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load sentencepiece model: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load sentencepiece model %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes a serialised ModelProto.
func Parse(b []byte) (*Model, error) {
	m := &Model{ModelType: TypeUnigram, unkID: -1,
		Normalizer: Normalizer{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}}
	err := protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			p, err := parsePiece(v)
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.Pieces), err)
			}
			m.Pieces = append(m.Pieces, p)
		case num == 2 && typ == protowire.BytesType: // TrainerSpec
			return protowalk.Fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				switch {
				case num == 3 && typ == protowire.VarintType:
					m.ModelType = int32(x)
				case num == 35 && typ == protowire.VarintType:
					m.ByteFallback = x != 0
				}
				return nil
			})
		case num == 3 && typ == protowire.BytesType: // NormalizerSpec
			return protowalk.Fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case num == 2 && typ == protowire.BytesType:
					m.CharsmapBlob = append([]byte(nil), v...)
				case num == 3 && typ == protowire.VarintType:
					m.Normalizer.AddDummyPrefix = x != 0
				case num == 4 && typ == protowire.VarintType:
					m.Normalizer.RemoveExtraWhitespaces = x != 0
				case num == 5 && typ == protowire.VarintType:
					m.Normalizer.EscapeWhitespaces = x != 0
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.Pieces) == 0 {
		return nil, fmt.Errorf("model has no pieces")
	}
	if len(m.CharsmapBlob) > 0 {
		cm, err := ParseCharsmap(m.CharsmapBlob)
		if err != nil {
			return nil, err
		}
		m.Normalizer.Charsmap = cm
	}
	for i, p := range m.Pieces {
		if p.Type == Unknown {
			m.unkID = int32(i)
			break
		}
	}
	if m.unkID < 0 {
		return nil, fmt.Errorf("model has no unknown piece")
	}
	var byteIDs *[256]int32
	if m.ByteFallback {
		bytePieces := make(map[string]int32)
		for i, p := range m.Pieces {
			if p.Type == Byte {
				bytePieces[p.Text] = int32(i)
			}
		}
		if byteIDs, err = ByteFallbackIDs(func(s string) (int32, bool) {
			id, ok := bytePieces[s]
			return id, ok
		}); err != nil {
			return nil, err
		}
	}
	switch m.ModelType {
	case TypeUnigram:
		ps := make([]UnigramPiece, len(m.Pieces))
		for i, p := range m.Pieces {
			ps[i] = UnigramPiece{Text: p.Text, Score: float64(p.Score),
				Matchable: p.Type == Normal || p.Type == UserDefined, UserDefined: p.Type == UserDefined}
		}
		m.unigram = NewUnigram(ps, m.unkID, UnigramOptions{ByteIDs: byteIDs, FuseUnknowns: true, Float32: true})
	case TypeBPE:
		m.bpe = newBPE(m.Pieces, m.unkID, byteIDs)
	default:
		return nil, fmt.Errorf("model type %d is not supported (only unigram=1 and bpe=2)", m.ModelType)
	}
	return m, nil
}

// ByteFallbackIDs finds the ids of the 256 pieces <0x00>..<0xFF> through lookup.
func ByteFallbackIDs(lookup func(string) (int32, bool)) (*[256]int32, error) {
	var ids [256]int32
	for b := range 256 {
		name := fmt.Sprintf("<0x%02X>", b)
		id, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("byte fallback is on but piece %s is missing", name)
		}
		ids[b] = id
	}
	return &ids, nil
}

// Encode returns the ids of text, without bos/eos, as spm_encode --output_format=id prints them.
func (m *Model) Encode(text string) []int64 {
	s := m.Normalizer.Normalize(text)
	if m.unigram != nil {
		return m.unigram.Encode(s, nil)
	}
	return m.bpe.encode(s, nil)
}

func parsePiece(b []byte) (Piece, error) {
	p := Piece{Type: Normal}
	err := protowalk.Fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			p.Text = string(v)
		case num == 2 && typ == protowire.Fixed32Type:
			p.Score = math.Float32frombits(uint32(x))
		case num == 3 && typ == protowire.VarintType:
			p.Type = PieceType(x)
		}
		return nil
	})
	return p, err
}
