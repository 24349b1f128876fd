package batching

import (
	"context"
	"path/filepath"
	"testing"

	"xling/dataset/bitext"
	"xling/internal/testenv"
)

func TestSampleBitextCorpora(t *testing.T) {
	root := filepath.Join(testenv.DataDir(t), "bitext")
	ctx := context.Background()
	opt := bitext.Options{Holdout: []string{"el", "vi"}}
	sources := []Source{
		BitextSource(ctx, bitext.NTREX(filepath.Join(root, "ntrex")), opt),
		BitextSource(ctx, bitext.FLORES(filepath.Join(root, "flores200-devtest")), opt),
	}
	cfg := Config{Strategy: mustHybrid(t, 0.5), BatchSize: 50, Buffer: 500, Seed: 1}
	bs, st := collect(t, cfg, sources...)
	if st.Pairs != 1997+1012 {
		t.Fatalf("%d pairs, want one per group: 1997 + 1012", st.Pairs)
	}
	fromNTREX := 0
	for _, b := range bs {
		groups := map[string]bool{}
		for _, p := range b.Pairs {
			if groups[p.Group] {
				t.Fatalf("batch %d: group %s twice", b.ID, p.Group)
			}
			groups[p.Group] = true
			if p.QLang == "el" || p.QLang == "vi" || p.PLang == "el" || p.PLang == "vi" {
				t.Fatalf("batch %d: held-out language in pair %s-%s", b.ID, p.QLang, p.PLang)
			}
			// Cross pairs may hold equal texts: some lines are left untranslated (quotes, names, numbers).
			if (b.Kind == Mono) != (p.QLang == p.PLang) || (b.Kind == Mono && p.Query != p.Passage) || p.Query == "" {
				t.Fatalf("%s batch %d: pair %s-%s %q / %q", b.Kind, b.ID, p.QLang, p.PLang, p.Query, p.Passage)
			}
			if p.Source == "ntrex" {
				fromNTREX++
			}
		}
	}
	if !binomialOK(fromNTREX, st.Pairs, 1997.0/3009) {
		t.Errorf("%d of %d pairs from ntrex, want about 1997/3009", fromNTREX, st.Pairs)
	}
}
