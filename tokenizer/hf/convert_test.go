package hf_test

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"xling/tokenizer/spm"
)

// The converters below write tokenizer.json files the way Hugging Face's convert_slow_tokenizer does
// for SentencePiece models (XLM-R style: Precompiled normaliser, Metaspace, Unigram or BPE), and a
// BERT-style WordPiece file from a vocabulary. They are test fixtures: what is checked is the
// tokenizer's ids against independent references.

type obj = map[string]any

func specialAdded(m *spm.Model) []obj {
	var out []obj
	for i, p := range m.Pieces {
		if p.Type == spm.Control || p.Type == spm.Unknown {
			out = append(out, obj{"id": i, "content": p.Text, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": false, "special": true})
		}
	}
	return out
}

func spmNormalizer(m *spm.Model) obj {
	return obj{"type": "Sequence", "normalizers": []obj{
		{"type": "Precompiled", "precompiled_charsmap": base64.StdEncoding.EncodeToString(m.CharsmapBlob)},
		{"type": "Strip", "strip_left": true, "strip_right": true},
		{"type": "Replace", "pattern": obj{"Regex": " {2,}"}, "content": " "},
	}}
}

func spmTemplate(m *spm.Model) obj {
	id := func(s string) int {
		for i, p := range m.Pieces {
			if p.Text == s {
				return i
			}
		}
		return -1
	}
	return obj{"type": "TemplateProcessing",
		"single": []obj{{"SpecialToken": obj{"id": "<s>", "type_id": 0}}, {"Sequence": obj{"id": "A", "type_id": 0}},
			{"SpecialToken": obj{"id": "</s>", "type_id": 0}}},
		"special_tokens": obj{"<s>": obj{"id": "<s>", "ids": []int{id("<s>")}, "tokens": []string{"<s>"}},
			"</s>": obj{"id": "</s>", "ids": []int{id("</s>")}, "tokens": []string{"</s>"}}}}
}

func writeJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// convertSPM writes a tokenizer.json equivalent to a SentencePiece unigram or BPE model.
func convertSPM(t testing.TB, m *spm.Model) string {
	t.Helper()
	var model obj
	unk := 0
	for i, p := range m.Pieces {
		if p.Type == spm.Unknown {
			unk = i
		}
	}
	switch m.ModelType {
	case spm.TypeUnigram:
		vocab := make([][2]any, len(m.Pieces))
		for i, p := range m.Pieces {
			vocab[i] = [2]any{p.Text, p.Score}
		}
		model = obj{"type": "Unigram", "unk_id": unk, "vocab": vocab, "byte_fallback": m.ByteFallback}
	case spm.TypeBPE:
		vocab := obj{}
		ids := map[string]int{}
		for i, p := range m.Pieces {
			vocab[p.Text] = i
			ids[p.Text] = i
		}
		// Hugging Face's SentencePieceExtractor: every split of a piece into two pieces is a merge,
		// ranked by the piece's id (SentencePiece orders BPE pieces by score), then by the parts' ids.
		var merges [][2]string
		for _, p := range m.Pieces {
			if p.Type != spm.Normal {
				continue
			}
			var local [][2]string
			for k := range p.Text {
				if k == 0 {
					continue
				}
				l, r := p.Text[:k], p.Text[k:]
				if _, ok := ids[l]; ok {
					if _, ok := ids[r]; ok {
						local = append(local, [2]string{l, r})
					}
				}
			}
			slices.SortFunc(local, func(a, b [2]string) int {
				return cmp.Or(cmp.Compare(ids[a[0]], ids[b[0]]), cmp.Compare(ids[a[1]], ids[b[1]]))
			})
			merges = append(merges, local...)
		}
		model = obj{"type": "BPE", "vocab": vocab, "merges": merges, "unk_token": m.Pieces[unk].Text,
			"fuse_unk": true, "byte_fallback": m.ByteFallback, "dropout": nil}
	default:
		t.Fatalf("model type %d", m.ModelType)
	}
	return writeJSON(t, obj{"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":   specialAdded(m),
		"normalizer":     spmNormalizer(m),
		"pre_tokenizer":  obj{"type": "Metaspace", "replacement": spm.Space, "prepend_scheme": "always", "split": true},
		"post_processor": spmTemplate(m),
		"decoder":        obj{"type": "Metaspace", "replacement": spm.Space, "prepend_scheme": "always", "split": true},
		"model":          model,
	})
}

// wordPieceFromSPM writes a BERT-style (uncased, LaBSE-like multilingual) WordPiece tokenizer.json
// whose vocabulary is made from a SentencePiece model's pieces: word-initial pieces become words,
// the others "##" continuations, plus every character in both forms.
func wordPieceFromSPM(t testing.TB, m *spm.Model) string {
	t.Helper()
	specials := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	vocab := obj{}
	add := func(s string) {
		if _, ok := vocab[s]; !ok && s != "" && s != "##" {
			vocab[s] = len(vocab)
		}
	}
	for _, s := range specials {
		add(s)
	}
	clean := func(s string) string {
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
		return strings.ToLower(s)
	}
	for _, p := range m.Pieces {
		if p.Type != spm.Normal {
			continue
		}
		text := clean(p.Text)
		for _, r := range text {
			if string(r) != spm.Space {
				add(string(r))
				add("##" + string(r))
			}
		}
		if rest, ok := strings.CutPrefix(text, spm.Space); ok {
			add(rest)
		} else {
			add("##" + text)
		}
	}
	var added []obj
	for i, s := range specials {
		added = append(added, obj{"id": i, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
			"normalized": false, "special": true})
	}
	return writeJSON(t, obj{"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens":  added,
		"normalizer":    obj{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
		"pre_tokenizer": obj{"type": "BertPreTokenizer"},
		"post_processor": obj{"type": "TemplateProcessing",
			"single": []obj{{"SpecialToken": obj{"id": "[CLS]", "type_id": 0}}, {"Sequence": obj{"id": "A", "type_id": 0}},
				{"SpecialToken": obj{"id": "[SEP]", "type_id": 0}}},
			"special_tokens": obj{"[CLS]": obj{"id": "[CLS]", "ids": []int{2}, "tokens": []string{"[CLS]"}},
				"[SEP]": obj{"id": "[SEP]", "ids": []int{3}, "tokens": []string{"[SEP]"}}}},
		"decoder": obj{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": obj{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
			"max_input_chars_per_word": 100, "vocab": vocab},
	})
}
