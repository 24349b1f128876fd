package hf

import "testing"

// FuzzParse parses arbitrary tokenizer.json contents. A file that parses must encode any text without
// panicking, into ids, type ids and mask of one length, with no more real tokens than the truncation
// limit allows; a file that does not parse must give an error.
func FuzzParse(f *testing.F) {
	f.Add([]byte(tinyWordPiece), "Héllo WORLD! [SEP]")
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": ["a b"], "unk_token": "<unk>"},
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true}}`), "abab ba")
	f.Add([]byte(`{"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0], ["▁a", -1], ["b", -2]]},
		"normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
		"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}}`), "a b ab")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		const maxLen = 16
		tok.SetTruncation(maxLen)
		for _, special := range []bool{false, true} {
			e, err := tok.Encode(text, special)
			if err != nil {
				continue // a maximum length that leaves no room for the special tokens
			}
			if len(e.IDs) != len(e.TypeIDs) || len(e.IDs) != len(e.AttentionMask) {
				t.Fatalf("Encode(%q): %d ids, %d type ids, %d mask", text, len(e.IDs), len(e.TypeIDs), len(e.AttentionMask))
			}
			real := 0
			for _, m := range e.AttentionMask {
				if m != 0 && m != 1 {
					t.Fatalf("Encode(%q): mask value %d", text, m)
				}
				real += int(m)
			}
			if real > maxLen {
				t.Fatalf("Encode(%q, %v): %d tokens, truncation at %d", text, special, real, maxLen)
			}
			if len(e.IDs) > max(maxLen, MaxPadLength) {
				t.Fatalf("Encode(%q): %d ids, padding is bounded by %d", text, len(e.IDs), MaxPadLength)
			}
		}
	})
}
