// Package tokenizer turns text into the token ids a model expects. A model file names its tokenizer in its
// metadata ("xling.tokenizer"), so the tokenize stage needs nothing but the model.
package tokenizer

import (
	"fmt"
	"strings"

	"xling/encoder/hashbag"
	"xling/tokenizer/hf"
	"xling/tokenizer/ngram"
	"xling/tokenizer/spm"
)

// Tokenizer encodes one text. Implementations are safe for use by one goroutine at a time.
type Tokenizer interface {
	// Encode returns the token ids, the token type ids (nil when the model has none) and whether the text
	// was cut to the model's maximum length.
	Encode(text string) (ids, typeIDs []int64, truncated bool, err error)
}

// VocabSize returns how many token ids t's model knows (every id t emits lies in [0, n)), or 0 when t does
// not say. The encode stage checks records against it before the model sees them.
func VocabSize(t Tokenizer) int {
	if v, ok := t.(interface{ VocabSize() int }); ok {
		return v.VocabSize()
	}
	return 0
}

// MetadataKey is the model metadata entry that configures the tokenizer.
const MetadataKey = "xling.tokenizer"

// FromMetadata builds the tokenizer a model's metadata describes.
func FromMetadata(md map[string]string) (Tokenizer, error) {
	if _, ok := md[MetadataKey]; !ok {
		return nil, fmt.Errorf("model metadata has no %q entry", MetadataKey)
	}
	// hashbag owns the entry's format, including which tokenizer types it knows.
	cfg, err := hashbag.TokenizerConfig(md)
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	t, err := ngram.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("model metadata %s: %w", MetadataKey, err)
	}
	return NGram{t}, nil
}

// NGram adapts the hashed n-gram tokenizer of xling's own encoder.
type NGram struct{ T *ngram.Tokenizer }

// Encode implements Tokenizer.
func (n NGram) Encode(text string) ([]int64, []int64, bool, error) {
	ids, truncated := n.T.Encode(text)
	return ids, nil, truncated, nil
}

// VocabSize is the number of buckets: xling's model has an embedding row for each.
func (n NGram) VocabSize() int { return n.T.Config().Buckets }

// Load reads a tokenizer file: a Hugging Face tokenizer.json, or a SentencePiece .model (whose ids are the
// SentencePiece ids, with no special tokens added). maxLength > 0 truncates (counted by the caller).
func Load(path string, maxLength int) (Tokenizer, error) {
	if strings.HasSuffix(path, ".model") {
		m, err := spm.Load(path)
		if err != nil {
			return nil, err
		}
		return SentencePiece{m, maxLength}, nil
	}
	t, err := hf.Load(path)
	if err != nil {
		return nil, err
	}
	// The adapter returns ids only, no attention mask, and the runner pads each batch itself: padding that
	// the file asks for would reach the model as real tokens (and be mean-pooled).
	t.NoPadding()
	if maxLength > 0 {
		t.SetTruncation(maxLength)
	}
	return HF{t}, nil
}

// HF adapts a Hugging Face tokenizer.json; special tokens are added as its post-processor says.
type HF struct{ T *hf.Tokenizer }

// Encode implements Tokenizer.
func (h HF) Encode(text string) ([]int64, []int64, bool, error) {
	e, err := h.T.Encode(text, true)
	if err != nil {
		return nil, nil, false, err
	}
	return e.IDs, e.TypeIDs, e.Truncated, nil
}

// VocabSize is the number of token ids h's file knows.
func (h HF) VocabSize() int { return h.T.VocabSize() }

// SentencePiece adapts a SentencePiece model.
type SentencePiece struct {
	M         *spm.Model
	MaxLength int
}

// Encode implements Tokenizer.
func (s SentencePiece) Encode(text string) ([]int64, []int64, bool, error) {
	ids := s.M.Encode(text)
	if s.MaxLength > 0 && len(ids) > s.MaxLength {
		return ids[:s.MaxLength], nil, true, nil
	}
	return ids, nil, false, nil
}

// VocabSize is the number of pieces, each an id.
func (s SentencePiece) VocabSize() int { return len(s.M.Pieces) }
