package transformer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xling/dataset"
	"xling/domain"
	"xling/evaluate"
	"xling/internal/testenv"
)

// A model directory as a user brings it — a transformer export, a WordPiece tokenizer.json and an
// xling.json — evaluates end to end through the embedded-broker pipeline: every record reaches the
// scorer, texts over max_length are cut and counted, and every setting is scored under the
// directory's name.
func TestModelDirectoryRunsThroughThePipeline(t *testing.T) {
	dir := t.TempDir()
	onnxPath := model(t, "tiny", tiny)
	body, err := os.ReadFile(onnxPath)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"model.onnx":     body,
		"tokenizer.json": letterWordPiece(t),
		"xling.json": []byte(`{"name": "tiny-bert", "pooling": "mean", "normalize": true,
			"query_prefix": "query: ", "passage_prefix": "passage: ", "max_length": 64}`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	langs := []string{"de", "en"}
	cfg := evaluate.Config{
		DataDir: testenv.DataDir(t), OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR},
		Langs: map[string][]string{dataset.XQuADR: langs}, Model: dir, RunID: "test", TopK: 1,
		MaxText: 64 << 10, ORTLibrary: testenv.ORTLibrary(t), Threads: 2, Progress: time.Hour,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := evaluate.Run(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if p := evaluate.Reconcile(res.Counts); len(p) > 0 {
		t.Errorf("books do not balance: %v", p)
	}
	by := map[string]evaluate.StageCounts{}
	for _, c := range res.Counts {
		by[c.Stage] = c
	}
	// XQuAD-R: 1190 questions per language; de has 1276 candidate sentences, en 1180.
	if want := int64(2*1190 + 1276 + 1180); by["ingest"].Out != want || by["score"].In != want {
		t.Errorf("ingest out %d, score in %d, want %d", by["ingest"].Out, by["score"].In, want)
	}
	if by["tokenize"].Truncated == 0 {
		t.Error("no text was truncated to max_length 64; some XQuAD-R sentences are longer")
	}
	// The manifest pins the model by every file that defines it.
	man, err := os.ReadFile(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if !strings.Contains(string(man), filepath.Join(dir, name)) {
			t.Errorf("manifest does not record %s", name)
		}
	}
	settings := map[string]bool{}
	for _, m := range res.Metrics {
		if m.QueryID == "" && m.Name == "map" {
			if m.Model != "tiny-bert" {
				t.Fatalf("metric %+v: model %q, want the directory's name", m, m.Model)
			}
			settings[string(m.Setting)+" "+m.QueryLang+" "+m.CandLang] = true
		}
	}
	for _, want := range [][3]string{
		{string(domain.Mono), "de", "de"}, {string(domain.Mono), "en", "en"}, {string(domain.Cross), "de", "en"}, {string(domain.Cross), "en", "de"},
		{string(domain.Multi), "de", domain.Pool}, {string(domain.Multi), "en", domain.Pool},
	} {
		if key := strings.Join(want[:], " "); !settings[key] {
			t.Errorf("no mAP for setting %q (have %v)", key, settings)
		}
	}
}

// letterWordPiece is a BERT-style tokenizer.json whose vocabulary is ASCII letters and digits (as
// words and as ## pieces), so every id fits the tiny model's 1000-row embedding table; other words
// become [UNK].
func letterWordPiece(t *testing.T) []byte {
	vocab := map[string]int{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}
	for _, r := range "abcdefghijklmnopqrstuvwxyz0123456789" {
		vocab[string(r)] = len(vocab)
		vocab["##"+string(r)] = len(vocab)
	}
	js, err := json.Marshal(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": []any{},
		"normalizer":     map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 3}, "cls": []any{"[CLS]", 2}},
		"decoder":        nil,
		"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
			"max_input_chars_per_word": 100, "vocab": vocab},
	})
	if err != nil {
		t.Fatal(err)
	}
	return js
}
