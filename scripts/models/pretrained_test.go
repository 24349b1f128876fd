// Package models holds the set-up of the pretrained encoders (fetch.sh, convert.py) and the test that checks
// xling's runner on them against an independent reference (reference.py).
package models

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"xling/encoder"
	"xling/encoder/ort"
	"xling/internal/testenv"
)

// TestPretrainedEqualsReference embeds real XQuAD-R sentences in all 11 languages, as queries and as
// passages, with each pretrained model that `make models` builds, through xling's path (encoder.Load, the
// model directory's tokenizer, one padded batch through ONNX Runtime, xling's pooling), and compares each
// vector with reference.py's, one text at a time: for the transformers, Hugging Face transformers on
// PyTorch over the checkpoint rather than the ONNX export, with the Rust tokenizers library; for USE, the
// package's own numpy forward pass over Debian's sentencepiece (spm_encode). Cosine within 1e-4.
func TestPretrainedEqualsReference(t *testing.T) {
	// Opt-in: the models take a 180 MB fetch and a conversion (make models), and the reference a few
	// minutes; make test-models runs it, make test does not.
	if os.Getenv("XLING_PRETRAINED") != "1" {
		t.Skip("the pretrained encoders' reference check: make test-models (XLING_PRETRAINED=1)")
	}
	root := testenv.RepoRoot(t)
	py := filepath.Join(root, ".cache", "pyenv-models", "bin", "python")
	if _, err := os.Stat(py); err != nil {
		testenv.Missing(t, py+" (make models)")
	}
	testenv.RequireTool(t, "spm_encode") // Debian's sentencepiece, USE's reference tokenizer
	texts := testenv.Sentences(t, 3)     // 33 candidates, 3 a language
	rt, err := ort.NewRuntime(testenv.ORTLibrary(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	for _, name := range []string{"e5-small", "minilm-l6", "use-m3"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, ".cache", "models", name)
			if _, err := os.Stat(filepath.Join(dir, "SOURCE.json")); err != nil {
				testenv.Missing(t, dir+" (make models)")
			}
			spec, err := encoder.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := spec.NewTokenizer(nil)
			if err != nil {
				t.Fatal(err)
			}
			// Every text both as a query and as a passage, so both prefixes are checked; one batch, so
			// rows of different lengths are padded together.
			type item struct {
				Text  string `json:"text"`
				Query bool   `json:"query"`
			}
			var items []item
			var batch ort.Batch
			for _, q := range []bool{true, false} {
				for _, text := range texts {
					prefix := spec.PassagePrefix
					if q {
						prefix = spec.QueryPrefix
					}
					ids, types, _, err := tok.Encode(prefix + text)
					if err != nil {
						t.Fatal(err)
					}
					items = append(items, item{text, q})
					batch.IDs = append(batch.IDs, ids)
					batch.TypeIDs = append(batch.TypeIDs, types)
				}
			}
			if batch.TypeIDs[0] == nil {
				batch.TypeIDs = nil
			}
			sess, err := rt.Open(spec.Path, spec.SessionConfig(2, "cpu"))
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			got, err := sess.Embed(context.Background(), batch)
			if err != nil {
				t.Fatal(err)
			}

			var in bytes.Buffer
			enc := json.NewEncoder(&in)
			for _, it := range items {
				if err := enc.Encode(it); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(py, filepath.Join(root, "scripts", "models", "reference.py"), "embed", dir)
			cmd.Stdin = &in
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("reference.py: %v\n%s", err, stderr.Bytes())
			}
			dec := json.NewDecoder(bytes.NewReader(out))
			dim := sess.Dim()
			worst := 0.0
			for i, it := range items {
				var want []float64
				if err := dec.Decode(&want); err != nil {
					t.Fatalf("reference.py output, row %d: %v", i, err)
				}
				if len(want) != dim {
					t.Fatalf("row %d: reference has %d dimensions, xling %d", i, len(want), dim)
				}
				v := got[i*dim : (i+1)*dim]
				var dot, nx, ny float64
				for j, w := range want {
					dot += float64(v[j]) * w
					nx += float64(v[j]) * float64(v[j])
					ny += w * w
				}
				d := 1 - dot/math.Sqrt(nx*ny)
				worst = max(worst, d)
				if d > 1e-4 {
					t.Errorf("row %d (query %v, %q): 1 - cosine = %.3g", i, it.Query, it.Text, d)
				}
			}
			t.Logf("%s: %d texts, %d dimensions, max 1 - cosine %.3g", name, len(items), dim, worst)
		})
	}
}
