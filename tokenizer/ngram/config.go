// Package ngram turns text into hashed character n-gram ids, the input of xling's own encoder
// (encoder/hashbag). It needs no vocabulary, so it handles every script, including Chinese and Thai,
// which are written without spaces.
package ngram

// Config fully determines the ids of a text; it is stored in the model file's metadata.
type Config struct {
	Buckets   int    `json:"buckets"`    // ids are in [1, Buckets); 0 is padding
	MinN      int    `json:"min_n"`      // shortest n-gram, in runes
	MaxN      int    `json:"max_n"`      // longest n-gram, in runes
	MaxTokens int    `json:"max_tokens"` // ids kept per text; the rest is truncated (and counted)
	Seed      uint64 `json:"seed"`       // hash seed
}
