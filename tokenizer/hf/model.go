package hf

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"xling/tokenizer/spm"
)

// model turns one pre-tokenized word into ids.
type model interface {
	encode(word string, dst []int64) []int64
	// id returns the id of a vocabulary entry.
	id(token string) (int64, bool)
	// maxID is the largest id of the vocabulary, -1 for none.
	maxID() int64
}

type modelJSON struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	UnkID                   *int            `json:"unk_id"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Dropout                 *float64        `json:"dropout"`
}

func parseModel(raw json.RawMessage) (model, error) {
	var j modelJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if j.Type == "" { // old files leave the type out; the fields tell
		switch {
		case len(j.Merges) > 0:
			j.Type = "BPE"
		case j.MaxInputCharsPerWord != nil:
			j.Type = "WordPiece"
		case j.UnkID != nil:
			j.Type = "Unigram"
		}
	}
	switch j.Type {
	case "WordPiece":
		return newWordPiece(j)
	case "BPE":
		return newBPE(j)
	case "Unigram":
		return newUnigram(j)
	}
	return nil, &unsupportedError{"model", j.Type}
}

type vocab map[string]int64

func (v vocab) maxID() int64 {
	m := int64(-1)
	for _, id := range v {
		m = max(m, id)
	}
	return m
}

func (v vocab) id(token string) (int64, bool) {
	id, ok := v[token]
	return id, ok
}

// wordPiece is BERT's greedy longest-match-first segmentation. The longest vocabulary entry that
// prefixes the rest of the word is found in a trie: one for word starts, one for continuations.
type wordPiece struct {
	vocab
	unk          int64
	prefix       string
	maxChars     int
	starts, cont *spm.Trie
}

func newWordPiece(j modelJSON) (*wordPiece, error) {
	w := &wordPiece{prefix: "##", maxChars: 100}
	if err := json.Unmarshal(j.Vocab, &w.vocab); err != nil {
		return nil, fmt.Errorf("WordPiece vocab: %w", err)
	}
	if j.ContinuingSubwordPrefix != nil {
		w.prefix = *j.ContinuingSubwordPrefix
	}
	if j.MaxInputCharsPerWord != nil {
		w.maxChars = *j.MaxInputCharsPerWord
	}
	unk := "[UNK]"
	if j.UnkToken != nil {
		unk = *j.UnkToken
	}
	id, ok := w.vocab[unk]
	if !ok {
		return nil, fmt.Errorf("WordPiece: unk_token %q is not in the vocab", unk)
	}
	w.unk = id
	w.starts, w.cont = spm.NewTrie(), spm.NewTrie()
	for tok, id := range w.vocab {
		w.starts.Insert(tok, int32(id))
		if rest, ok := strings.CutPrefix(tok, w.prefix); ok {
			w.cont.Insert(rest, int32(id))
		}
	}
	return w, nil
}

func (w *wordPiece) encode(word string, dst []int64) []int64 {
	if utf8.RuneCountInString(word) > w.maxChars {
		return append(dst, w.unk)
	}
	mark := len(dst)
	for start := 0; start < len(word); {
		trie := w.starts
		if start > 0 {
			trie = w.cont
		}
		id, n := trie.Longest(word[start:])
		if n == 0 {
			return append(dst[:mark], w.unk)
		}
		dst = append(dst, int64(id))
		start += n
	}
	return dst
}

// bpe is the Hugging Face BPE model: characters merged by merge rank, lowest first.
type bpe struct {
	vocab
	merges       map[uint64]bpeMerge
	unk          int64 // -1 if none
	prefix       string
	suffix       string
	fuseUnk      bool
	byteIDs      *[256]int32
	ignoreMerges bool
}

type bpeMerge struct {
	rank int32
	id   int64
}

func newBPE(j modelJSON) (*bpe, error) {
	if j.Dropout != nil && *j.Dropout > 0 {
		return nil, fmt.Errorf("BPE: dropout %g is not supported (encoding would be random)", *j.Dropout)
	}
	b := &bpe{unk: -1, fuseUnk: j.FuseUnk, ignoreMerges: j.IgnoreMerges}
	if err := json.Unmarshal(j.Vocab, &b.vocab); err != nil {
		return nil, fmt.Errorf("BPE vocab: %w", err)
	}
	if j.ContinuingSubwordPrefix != nil {
		b.prefix = *j.ContinuingSubwordPrefix
	}
	if j.EndOfWordSuffix != nil {
		b.suffix = *j.EndOfWordSuffix
	}
	if j.UnkToken != nil {
		id, ok := b.vocab[*j.UnkToken]
		if !ok {
			return nil, fmt.Errorf("BPE: unk_token %q is not in the vocab", *j.UnkToken)
		}
		b.unk = id
	}
	if j.ByteFallback {
		ids, err := spm.ByteFallbackIDs(func(s string) (int32, bool) {
			id, ok := b.vocab[s]
			return int32(id), ok
		})
		if err != nil {
			return nil, fmt.Errorf("BPE: %w", err)
		}
		b.byteIDs = ids
	}
	// Merges are "a b" strings in older files and [a, b] pairs in newer ones.
	var raw []json.RawMessage
	if err := json.Unmarshal(j.Merges, &raw); err != nil {
		return nil, fmt.Errorf("BPE merges: %w", err)
	}
	b.merges = make(map[uint64]bpeMerge, len(raw))
	for rank, r := range raw {
		var a, c string
		var pair []string
		if err := json.Unmarshal(r, &pair); err == nil {
			if len(pair) != 2 {
				return nil, fmt.Errorf("BPE merge %d: %d parts, want 2", rank, len(pair))
			}
			a, c = pair[0], pair[1]
		} else {
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return nil, fmt.Errorf("BPE merge %d: %w", rank, err)
			}
			var ok bool
			if a, c, ok = strings.Cut(s, " "); !ok {
				return nil, fmt.Errorf("BPE merge %d: %q has no space", rank, s)
			}
		}
		ia, oka := b.vocab[a]
		ic, okc := b.vocab[c]
		merged := a + strings.TrimPrefix(c, b.prefix)
		im, okm := b.vocab[merged]
		if !oka || !okc || !okm {
			return nil, fmt.Errorf("BPE merge %d (%q, %q): a part or the result is not in the vocab", rank, a, c)
		}
		// A repeated pair keeps its last rank, as Hugging Face's map does.
		b.merges[pairKey(ia, ic)] = bpeMerge{rank: int32(rank), id: im}
	}
	return b, nil
}

func pairKey(a, b int64) uint64 { return uint64(a)<<32 | uint64(uint32(b)) }

type bpeSym struct {
	id         int64
	prev, next int
	gone       bool
}

type bpeCand struct {
	rank  int32
	pos   int
	left  int64
	right int64
}

type bpeQueue []bpeCand

func (q bpeQueue) Len() int { return len(q) }
func (q bpeQueue) Less(i, j int) bool {
	return q[i].rank < q[j].rank || (q[i].rank == q[j].rank && q[i].pos < q[j].pos)
}
func (q bpeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bpeQueue) Push(x any)   { *q = append(*q, x.(bpeCand)) }
func (q *bpeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func (b *bpe) encode(word string, dst []int64) []int64 {
	if b.ignoreMerges {
		if id, ok := b.vocab[word]; ok {
			return append(dst, id)
		}
	}
	var syms []bpeSym
	prevUnk := false
	push := func(id int64) {
		syms = append(syms, bpeSym{id: id, prev: len(syms) - 1, next: len(syms) + 1})
	}
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		s := word[i : i+n]
		i += n
		if i > n {
			s = b.prefix + s
		}
		if i == len(word) {
			s += b.suffix
		}
		if id, ok := b.vocab[s]; ok {
			push(id)
			prevUnk = false
			continue
		}
		if b.byteIDs != nil {
			for k := i - n; k < i; k++ {
				push(int64(b.byteIDs[word[k]]))
			}
			prevUnk = false
			continue
		}
		if b.unk >= 0 && !(b.fuseUnk && prevUnk) {
			push(b.unk)
		}
		prevUnk = b.unk >= 0
	}
	if len(syms) == 0 {
		return dst
	}
	syms[len(syms)-1].next = -1
	var q bpeQueue
	add := func(l int) {
		r := syms[l].next
		if r < 0 {
			return
		}
		if m, ok := b.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			heap.Push(&q, bpeCand{rank: m.rank, pos: l, left: syms[l].id, right: syms[r].id})
		}
	}
	for i := range syms {
		add(i)
	}
	for q.Len() > 0 {
		c := heap.Pop(&q).(bpeCand)
		l := &syms[c.pos]
		if l.gone || l.id != c.left || l.next < 0 || syms[l.next].id != c.right {
			continue
		}
		r := &syms[l.next]
		l.id = b.merges[pairKey(c.left, c.right)].id
		r.gone = true
		l.next = r.next
		if l.next >= 0 {
			syms[l.next].prev = c.pos
		}
		if l.prev >= 0 {
			add(l.prev)
		}
		add(c.pos)
	}
	for i := 0; i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	return dst
}

// unigram wraps the segmenter shared with SentencePiece.
type unigram struct {
	vocab
	u *spm.Unigram
}

func newUnigram(j modelJSON) (*unigram, error) {
	var raw [][2]json.RawMessage
	if err := json.Unmarshal(j.Vocab, &raw); err != nil {
		return nil, fmt.Errorf("Unigram vocab: %w", err)
	}
	m := &unigram{vocab: make(vocab, len(raw))}
	pieces := make([]spm.UnigramPiece, len(raw))
	for i, r := range raw {
		var e struct {
			Piece string
			Score float64
		}
		if err := json.Unmarshal(r[0], &e.Piece); err != nil {
			return nil, fmt.Errorf("Unigram vocab entry %d: %w", i, err)
		}
		if err := json.Unmarshal(r[1], &e.Score); err != nil {
			return nil, fmt.Errorf("Unigram vocab entry %d: %w", i, err)
		}
		pieces[i] = spm.UnigramPiece{Text: e.Piece, Score: e.Score, Matchable: true}
		if _, dup := m.vocab[e.Piece]; !dup {
			m.vocab[e.Piece] = int64(i)
		}
	}
	if j.UnkID == nil || *j.UnkID < 0 || *j.UnkID >= len(raw) {
		return nil, fmt.Errorf("Unigram: unk_id missing or out of range")
	}
	opts := spm.UnigramOptions{FuseUnknowns: true}
	if j.ByteFallback {
		ids, err := spm.ByteFallbackIDs(func(s string) (int32, bool) {
			id, ok := m.vocab[s]
			return int32(id), ok
		})
		if err != nil {
			return nil, fmt.Errorf("Unigram: %w", err)
		}
		opts.ByteIDs = ids
	}
	m.u = spm.NewUnigram(pieces, int32(*j.UnkID), opts)
	return m, nil
}

func (m *unigram) encode(word string, dst []int64) []int64 { return m.u.Encode(word, dst) }
