package spm

import (
	"math"
	"unicode/utf8"
)

// unkPenalty is how much lower than the lowest piece score an unknown character scores, as in
// SentencePiece's and Hugging Face's unigram models.
const unkPenalty = 10.0

// Unigram segments normalised text into the pieces of highest total score (Viterbi), as
// SentencePiece's EncodeOptimized does. Hugging Face's Unigram model uses the same algorithm.
type Unigram struct {
	trie        *Trie
	scores      []float64
	userDefined []bool
	maxScore    float64
	unkScore    float64
	unkID       int32
	opts        UnigramOptions
}

// UnigramOptions are the behaviours in which SentencePiece and Hugging Face differ, or that a model sets.
type UnigramOptions struct {
	// ByteIDs, if non-nil, holds the byte-fallback pieces <0x00>..<0xFF>: unknown characters become
	// their UTF-8 bytes.
	ByteIDs *[256]int32
	// FuseUnknowns merges runs of unknown characters into one unknown id (Hugging Face's fuse_unk).
	FuseUnknowns bool
	// Float32 keeps path scores in float32 as SentencePiece does, comparing a piece's candidate score,
	// summed in float64, with the float32 score kept so far; Hugging Face sums and compares in float64.
	// This decides between segmentations of equal score.
	Float32 bool
}

// UnigramPiece is one vocabulary entry as the unigram model sees it.
type UnigramPiece struct {
	Text        string
	Score       float64
	Matchable   bool // false for control, unknown, byte and unused pieces, which text never matches
	UserDefined bool // scored so that it always wins, as SentencePiece does
}

// NewUnigram builds the model.
func NewUnigram(pieces []UnigramPiece, unkID int32, opts UnigramOptions) *Unigram {
	u := &Unigram{trie: NewTrie(), scores: make([]float64, len(pieces)), userDefined: make([]bool, len(pieces)),
		unkID: unkID, opts: opts}
	minScore, maxScore := math.Inf(1), math.Inf(-1)
	for i, p := range pieces {
		u.scores[i] = p.Score
		u.userDefined[i] = p.UserDefined
		if !p.Matchable {
			continue
		}
		u.trie.Insert(p.Text, int32(i))
		if !p.UserDefined {
			minScore = min(minScore, p.Score)
			maxScore = max(maxScore, p.Score)
		}
	}
	if math.IsInf(minScore, 1) {
		minScore, maxScore = 0, 0
	}
	u.maxScore = maxScore
	u.unkScore = u.round(minScore - unkPenalty)
	return u
}

func (u *Unigram) round(x float64) float64 {
	if u.opts.Float32 {
		return float64(float32(x))
	}
	return x
}

type lattNode struct {
	score float64
	start int
	id    int32
}

// Encode appends the ids of the best segmentation of s to dst.
func (u *Unigram) Encode(s string, dst []int64) []int64 {
	if s == "" {
		return dst
	}
	best := make([]lattNode, len(s)+1)
	for i := range best {
		best[i].start = -1
	}
	best[0].start = 0
	for start := 0; start < len(s); {
		base := best[start].score
		_, size := utf8.DecodeRuneInString(s[start:])
		single := false
		u.trie.Prefixes(s[start:], func(id int32, n int) bool {
			score := u.scores[id]
			if u.userDefined[id] {
				score = float64(n)*u.maxScore - 0.1
			}
			t := &best[start+n]
			if c := base + score; t.start < 0 || c > t.score {
				*t = lattNode{score: u.round(c), start: start, id: id}
			}
			if n == size {
				single = true
			}
			return true
		})
		if !single {
			t := &best[start+size]
			if c := u.round(base + u.unkScore); t.start < 0 || c > t.score {
				*t = lattNode{score: c, start: start, id: -1}
			}
		}
		start += size
	}
	// Backtrack, collecting the pieces' end positions in reverse.
	var ends []int
	for end := len(s); end > 0; end = best[end].start {
		ends = append(ends, end)
	}
	prevUnk := false
	for i := len(ends) - 1; i >= 0; i-- {
		end := ends[i]
		n := best[end]
		switch {
		case n.id >= 0:
			dst = append(dst, int64(n.id))
		case u.opts.ByteIDs != nil:
			for j := n.start; j < end; j++ {
				dst = append(dst, int64(u.opts.ByteIDs[s[j]]))
			}
		case !(u.opts.FuseUnknowns && prevUnk):
			dst = append(dst, int64(u.unkID))
		}
		prevUnk = n.id < 0
	}
	return dst
}
