// Package ngram turns text into hashed character n-gram ids, the input of xling's own encoder
// (encoder/hashbag). It needs no vocabulary, so it handles every script, including Chinese and Thai,
// which are written without spaces.
//
// The algorithm is a specification: other implementations (the Python oracle in the tests, trainers
// in other languages) follow it to produce identical ids.
//
//  1. Lower-case every rune with Unicode simple case mapping (Go's unicode.ToLower; in Python,
//     c.lower() per character except U+0130 'İ' -> 'i', since Python applies full case mapping).
//     With Romanize, then replace each rune listed in romanize.tsv (Greek, Cyrillic, Arabic, Devanagari
//     and Thai letters, marks and digits) by its Latin string, which may be empty; the other runes stay.
//     Words are still split on the runes as they were (step 2), and a word left empty is no word.
//  2. Split into words: maximal runs of runes that are letters, marks or numbers (general category
//     L*, M* or N*). Everything else separates words. Marks matter for Hindi and Thai vowel signs.
//  3. For each word w, in text order, emit:
//     a. the word id: hash(kind 'w', UTF-8 of w);
//     b. the n-gram ids of b = "<" + w + ">": for each start rune i = 0 .. len(b)-1, for each
//     n = MinN .. MaxN with i+n <= len(b), hash(kind 'g', UTF-8 of b[i:i+n]), skipping the two
//     1-grams that are a bare marker ("<" at i = 0 and ">" at the last rune).
//  4. hash(kind, bytes) is 64-bit FNV-1a over the 8 bytes of Seed (little-endian), the kind byte,
//     then the bytes. The id is 1 + hash mod (Buckets-1), so ids lie in [1, Buckets) and 0 is left
//     for padding.
//  5. Keep the first MaxTokens ids; truncated reports that more would have followed.
//
// That is Span "word" (or empty, the span of models written before spans existed). Span "text" and
// "text+words" take the n-grams across word boundaries instead, so they also see how words follow each
// other and the n-grams of short words keep their neighbours:
//
//	a. steps 1 and 2 as above; the text becomes b = " " + the words joined by single spaces + " " (no
//	   words: no ids at all);
//	b. "text+words" first emits the word id of every word, in text order, as in step 3a;
//	c. then, for each start rune i = 0 .. len(b)-1, for each n = MinN .. MaxN with i+n <= len(b),
//	   hash(kind 'g', UTF-8 of b[i:i+n]), skipping the 1-gram " ";
//	d. steps 4 and 5 as above.
//
// With Unique, the ids kept in step 5 are then sorted ascending and repeats dropped.
//
// In Chinese and Thai, words are long runs and the n-grams carry the signal.
package ngram

// Config fully determines the ids of a text; it is stored in the model file's metadata.
//
// Only Span has a zero default (it reads "" as "word", where it is used); for the rest start from
// DefaultConfig. New calls Validate, which changes nothing.
type Config struct {
	Buckets   int    `json:"buckets"`    // ids are in [1, Buckets); 0 is padding
	MinN      int    `json:"min_n"`      // shortest n-gram, in runes
	MaxN      int    `json:"max_n"`      // longest n-gram, in runes
	MaxTokens int    `json:"max_tokens"` // ids kept per text; the rest is truncated (and counted)
	Seed      uint64 `json:"seed"`       // hash seed
	// Span is "word" (n-grams inside each word, plus word ids; "" reads as "word"), "text" (n-grams
	// across the whole text) or "text+words" (word ids, then n-grams across the whole text).
	Span string `json:"span,omitempty"`
	// Unique keeps each id once, sorted ascending (after truncation at MaxTokens): the bag then says which
	// n-grams a text has, not how often, which damps the most frequent ones.
	Unique bool `json:"unique,omitempty"`
	// Romanize writes Greek, Cyrillic, Arabic, Devanagari and Thai in Latin letters (romanize.tsv) before
	// taking n-grams, so that names and numbers share n-grams across scripts.
	Romanize bool `json:"romanize,omitempty"`
}

// Spans.
const (
	SpanWord      = "word"
	SpanText      = "text"
	SpanTextWords = "text+words"
)
