package tokenizer

import (
	"testing"

	"xling/tokenizer/ngram"
	"xling/tokenizer/spm"
)

type unsized struct{}

func (unsized) Encode(string) ([]int64, []int64, bool, error) { return nil, nil, false, nil }

func TestVocabSizeComesFromTheTokenizersModel(t *testing.T) {
	cfg := ngram.DefaultConfig()
	cfg.Buckets = 1000
	ng, err := ngram.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tok  Tokenizer
		want int
	}{
		{"n-gram: its buckets", NGram{ng}, 1000},
		{"SentencePiece: its pieces", SentencePiece{M: &spm.Model{Pieces: make([]spm.Piece, 7)}}, 7},
		{"a tokenizer that does not say", unsized{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VocabSize(tc.tok); got != tc.want {
				t.Errorf("VocabSize = %d, want %d", got, tc.want)
			}
		})
	}
}
