// Package hf reads Hugging Face tokenizer.json files and encodes text with them in pure Go: the
// WordPiece (BERT, LaBSE), Unigram (XLM-R, multilingual-e5, bge-m3) and BPE (byte-level or with byte
// fallback) models, with the normalizers, pre-tokenizers and post-processors those files use.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode"

	"xling/tokenizer/spm"
)

// MaxFileBytes bounds the size of a tokenizer.json that Load reads.
const MaxFileBytes = 256 << 20

// MaxPadLength bounds the padding a tokenizer.json may ask for (Fixed and pad_to_multiple_of), in tokens.
const MaxPadLength = 1 << 16

// Encoding is the model input for one text.
type Encoding struct {
	IDs           []int64
	TypeIDs       []int64
	AttentionMask []int64
	// Truncated reports that tokens were cut to fit the maximum length.
	Truncated bool
}

// Tokenizer is a loaded tokenizer.json.
type Tokenizer struct {
	added      *addedTokens
	normalizer normalizer
	pre        preTokenizer
	model      model
	post       *template
	maxLength  int // 0: no truncation
	truncLeft  bool
	pad        *padding
	vocabSize  int
}

type padding struct {
	length   int // 0: pad to the longest, which for one text is no padding
	multiple int
	id       int64
	typeID   int64
	left     bool
}

type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Model         json.RawMessage  `json:"model"`
	Truncation    *struct {
		MaxLength int    `json:"max_length"`
		Direction string `json:"direction"`
	} `json:"truncation"`
	Padding *struct {
		Strategy        json.RawMessage `json:"strategy"`
		Direction       string          `json:"direction"`
		PadToMultipleOf *int            `json:"pad_to_multiple_of"`
		PadID           int64           `json:"pad_id"`
		PadTypeID       int64           `json:"pad_type_id"`
	} `json:"padding"`
}

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("load tokenizer %s: %d bytes exceeds the %d-byte limit", path, fi.Size(), MaxFileBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", path, err)
	}
	return t, nil
}

// Parse builds a tokenizer from the contents of a tokenizer.json file.
func Parse(b []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	t := &Tokenizer{}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if len(f.Model) == 0 {
		return nil, errors.New("no model")
	}
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, t.model); err != nil {
		return nil, err
	}
	t.added = newAddedTokens(f.AddedTokens)
	if tr := f.Truncation; tr != nil {
		t.maxLength = tr.MaxLength
		t.truncLeft = tr.Direction == "Left"
	}
	if p := f.Padding; p != nil {
		t.pad = &padding{id: p.PadID, typeID: p.PadTypeID, left: p.Direction == "Left"}
		var fixed struct {
			Fixed int `json:"Fixed"`
		}
		if json.Unmarshal(p.Strategy, &fixed) == nil {
			t.pad.length = fixed.Fixed
		}
		if p.PadToMultipleOf != nil {
			t.pad.multiple = *p.PadToMultipleOf
		}
		// Every encoding is padded to these lengths: a file must not make each one allocate without bound.
		if t.pad.length > MaxPadLength || t.pad.multiple > MaxPadLength {
			return nil, fmt.Errorf("padding: length %d or multiple %d over the limit of %d", t.pad.length, t.pad.multiple, MaxPadLength)
		}
	}
	t.vocabSize = int(t.maxID() + 1)
	return t, nil
}

// maxID is the largest id an encoding can hold: of the model's vocabulary, the added tokens, the
// post-processor's special tokens and the padding.
func (t *Tokenizer) maxID() int64 {
	m := t.model.maxID()
	for _, id := range t.added.ids {
		m = max(m, id)
	}
	if t.post != nil {
		for _, id := range append(slices.Clone(t.post.before), t.post.after...) {
			m = max(m, id)
		}
	}
	if t.pad != nil {
		m = max(m, t.pad.id)
	}
	return m
}

// VocabSize is one more than the largest id an encoding can hold: every id Encode returns lies in
// [0, VocabSize()).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// SetTruncation sets the maximum length of an encoding, special tokens included; 0 turns
// truncation off. Tokens past it are cut from the end and Encoding.Truncated is set.
func (t *Tokenizer) SetTruncation(maxLength int) {
	t.maxLength = maxLength
	t.truncLeft = false
}

// NoPadding turns off the padding that the tokenizer.json asks for (a sentence-transformers export often
// carries "padding": {"Fixed": 128}): encodings keep their own length. Callers that batch pad themselves,
// with an attention mask, as transformers does when it is asked for no padding.
func (t *Tokenizer) NoPadding() {
	t.pad = nil
}

// TokenID returns the id of a token of the vocabulary or an added token.
func (t *Tokenizer) TokenID(token string) (int64, bool) {
	if id, ok := t.added.ids[token]; ok {
		return id, true
	}
	return t.model.id(token)
}

// Encode tokenizes one text. With addSpecial, the post-processor's special tokens (such as [CLS]
// and [SEP], or <s> and </s>) are added around it.
func (t *Tokenizer) Encode(text string, addSpecial bool) (Encoding, error) {
	var ids []int64
	first := true
	for _, seg := range t.added.split(text) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			first = false
			continue
		}
		s := seg.text
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
		}
		words := []string{s}
		if t.pre != nil {
			words = t.pre.split(words, first)
		}
		for _, w := range words {
			if w != "" {
				ids = t.model.encode(w, ids)
			}
		}
		first = false
	}
	var enc Encoding
	if t.maxLength > 0 {
		room := t.maxLength
		if addSpecial && t.post != nil {
			room -= t.post.added()
		}
		if room < 0 {
			return Encoding{}, fmt.Errorf("encode: maximum length %d leaves no room beside %d special tokens", t.maxLength, t.post.added())
		}
		if len(ids) > room {
			enc.Truncated = true
			if t.truncLeft {
				ids = ids[len(ids)-room:]
			} else {
				ids = ids[:room]
			}
		}
	}
	if addSpecial && t.post != nil {
		enc.IDs, enc.TypeIDs = t.post.apply(ids)
	} else {
		enc.IDs, enc.TypeIDs = ids, make([]int64, len(ids))
	}
	enc.AttentionMask = make([]int64, len(enc.IDs))
	for i := range enc.AttentionMask {
		enc.AttentionMask[i] = 1
	}
	if t.pad != nil {
		t.pad.apply(&enc)
	}
	return enc, nil
}

func (p *padding) apply(e *Encoding) {
	target := max(p.length, len(e.IDs))
	if p.multiple > 0 && target%p.multiple != 0 {
		target += p.multiple - target%p.multiple
	}
	n := target - len(e.IDs)
	if n <= 0 {
		return
	}
	fill := func(s []int64, v int64) []int64 {
		pad := make([]int64, n)
		for i := range pad {
			pad[i] = v
		}
		if p.left {
			return append(pad, s...)
		}
		return append(s, pad...)
	}
	e.IDs = fill(e.IDs, p.id)
	e.TypeIDs = fill(e.TypeIDs, p.typeID)
	e.AttentionMask = fill(e.AttentionMask, 0)
}

type addedTokenJSON struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedTokens finds added tokens in raw text, leftmost and then longest first, before normalisation.
type addedTokens struct {
	trie   *spm.Trie
	tokens []addedTokenJSON
	ids    map[string]int64
	first  [256]bool // bytes that start some token, to skip quickly
}

func newAddedTokens(toks []addedTokenJSON) *addedTokens {
	a := &addedTokens{trie: spm.NewTrie(), tokens: toks, ids: make(map[string]int64, len(toks))}
	for i, tk := range toks {
		if tk.Content == "" {
			continue
		}
		a.trie.Insert(tk.Content, int32(i))
		a.ids[tk.Content] = tk.ID
		a.first[tk.Content[0]] = true
	}
	return a
}

type segment struct {
	text string
	id   int64 // -1 for text between added tokens
}

func (a *addedTokens) split(text string) []segment {
	var out []segment
	start := 0
	stripNext := false
	for i := 0; i < len(text); {
		if !a.first[text[i]] {
			i++
			continue
		}
		v, n := a.trie.Longest(text[i:])
		if n == 0 {
			i++
			continue
		}
		tk := a.tokens[v]
		before := text[start:i]
		if stripNext {
			before = strings.TrimLeftFunc(before, unicode.IsSpace)
		}
		if tk.LStrip {
			before = strings.TrimRightFunc(before, unicode.IsSpace)
		}
		if before != "" {
			out = append(out, segment{text: before, id: -1})
		}
		out = append(out, segment{id: tk.ID})
		stripNext = tk.RStrip
		i += n
		start = i
	}
	rest := text[start:]
	if stripNext {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
	}
	if rest != "" || len(out) == 0 {
		out = append(out, segment{text: rest, id: -1})
	}
	return out
}
