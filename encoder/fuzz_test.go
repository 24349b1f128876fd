package encoder

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xling/encoder/ort"
)

// FuzzLoadConfig loads a model directory whose xling.json holds arbitrary bytes (beside a good
// tokenizer.json). A directory that loads must name only files inside it, a pooling xling knows and a
// name, and its tokenizer must keep to the configured maximum length.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte(`{"name": "bert-test", "pooling": "cls", "normalize": true, "query_prefix": "query: ", "max_length": 3}`))
	f.Add([]byte(`{"model": "sub/model.onnx", "tokenizer": "tokenizer.json", "pooling": "mean", "spin": false}`))
	f.Add([]byte(`{"model": "../model.onnx", "pooling": "none", "max_length": -1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, config []byte) {
		dir := modelDir(t, string(config), wordPiece)
		spec, err := Load(dir)
		if err != nil {
			if !strings.Contains(err.Error(), "load model") {
				t.Fatalf("error %q does not say what failed", err)
			}
			return
		}
		for _, p := range append(spec.Files, spec.Path) {
			if rel, err := filepath.Rel(dir, p); err != nil || !filepath.IsLocal(rel) {
				t.Fatalf("file %s is outside the model directory %s", p, dir)
			}
		}
		if !slices.Contains([]string{ort.PoolingMean, ort.PoolingCLS, ort.PoolingNone}, spec.Pooling) || spec.Name == "" || spec.Spin == nil {
			t.Fatalf("loaded config %+v: pooling, name or spin unset", spec.Config)
		}
		tok, err := spec.NewTokenizer(nil)
		if err != nil {
			t.Fatalf("tokenizer loaded once, not twice: %v", err)
		}
		ids, _, _, err := tok.Encode("hello world hello worlds")
		if err == nil && spec.MaxLength > 0 && len(ids) > spec.MaxLength {
			t.Fatalf("max_length %d, %d ids", spec.MaxLength, len(ids))
		}
	})
}
