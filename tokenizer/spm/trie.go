package spm

// Trie maps byte strings to values, for longest- and all-prefix search over a vocabulary. Edges are
// kept in one map keyed by (node, byte), which is compact and fast enough for vocabularies of a few
// hundred thousand pieces.
type Trie struct {
	edges  map[uint64]int32
	values []int32 // per node: the value stored there, or -1
}

// NewTrie returns an empty trie.
func NewTrie() *Trie {
	return &Trie{edges: make(map[uint64]int32), values: []int32{-1}}
}

// Insert stores v under key, replacing any earlier value.
func (t *Trie) Insert(key string, v int32) {
	node := int32(0)
	for i := 0; i < len(key); i++ {
		k := uint64(node)<<8 | uint64(key[i])
		next, ok := t.edges[k]
		if !ok {
			next = int32(len(t.values))
			t.values = append(t.values, -1)
			t.edges[k] = next
		}
		node = next
	}
	t.values[node] = v
}

// Prefixes calls fn with the value and length of every key that is a prefix of s, shortest first;
// fn returns false to stop.
func (t *Trie) Prefixes(s string, fn func(v int32, n int) bool) {
	node := int32(0)
	for i := 0; i < len(s); i++ {
		next, ok := t.edges[uint64(node)<<8|uint64(s[i])]
		if !ok {
			return
		}
		node = next
		if v := t.values[node]; v >= 0 && !fn(v, i+1) {
			return
		}
	}
}

// Longest returns the value and length of the longest key that is a prefix of s (n is 0 if none).
func (t *Trie) Longest(s string) (v int32, n int) {
	t.Prefixes(s, func(val int32, k int) bool {
		v, n = val, k
		return true
	})
	return v, n
}
