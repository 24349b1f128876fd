package spm

import (
	"container/heap"
	"unicode/utf8"
)

// bpe is SentencePiece's BPE model: starting from characters, it repeatedly merges the adjacent pair
// whose concatenation is the highest-scoring piece (leftmost on ties), as bpe_model.cc does.
type bpe struct {
	ids     map[string]int32
	scores  []float32
	unkID   int32
	byteIDs *[256]int32
}

func newBPE(pieces []Piece, unkID int32, byteIDs *[256]int32) *bpe {
	b := &bpe{ids: make(map[string]int32, len(pieces)), scores: make([]float32, len(pieces)), unkID: unkID, byteIDs: byteIDs}
	for i, p := range pieces {
		b.scores[i] = p.Score
		if p.Type == Normal || p.Type == UserDefined || p.Type == Unused {
			b.ids[p.Text] = int32(i)
		}
	}
	return b
}

type symbol struct {
	start, end int // byte range in the text; end == start marks a merged-away symbol
	prev, next int
}

type pair struct {
	left, right int
	score       float32
	size        int
}

type agenda []pair

func (a agenda) Len() int { return len(a) }
func (a agenda) Less(i, j int) bool {
	return a[i].score > a[j].score || (a[i].score == a[j].score && a[i].left < a[j].left)
}
func (a agenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *agenda) Push(x any)   { *a = append(*a, x.(pair)) }
func (a *agenda) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

func (b *bpe) encode(s string, dst []int64) []int64 {
	if s == "" {
		return dst
	}
	var syms []symbol
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		syms = append(syms, symbol{start: i, end: i + n, prev: len(syms) - 1, next: len(syms) + 1})
		i += n
	}
	syms[len(syms)-1].next = -1
	var q agenda
	add := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		if id, ok := b.ids[s[syms[l].start:syms[r].end]]; ok {
			heap.Push(&q, pair{left: l, right: r, score: b.scores[id], size: syms[r].end - syms[l].start})
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for q.Len() > 0 {
		p := heap.Pop(&q).(pair)
		l, r := &syms[p.left], &syms[p.right]
		if l.end == l.start || r.end == r.start || r.end-l.start != p.size || l.next != p.right {
			continue
		}
		l.end = r.end
		l.next = r.next
		r.start, r.end = 0, 0
		if l.next >= 0 {
			syms[l.next].prev = p.left
		}
		add(l.prev, p.left)
		add(p.left, l.next)
	}
	for i := 0; i >= 0; i = syms[i].next {
		piece := s[syms[i].start:syms[i].end]
		if id, ok := b.ids[piece]; ok {
			dst = append(dst, int64(id))
		} else if b.byteIDs != nil {
			for j := 0; j < len(piece); j++ {
				dst = append(dst, int64(b.byteIDs[piece[j]]))
			}
		} else {
			dst = append(dst, int64(b.unkID))
		}
	}
	return dst
}
