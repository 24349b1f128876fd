package pool

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"xling/domain"
	"xling/retrieval"
	"xling/schemas"
)

func collect(t *testing.T, cfg Config, lang string, kind domain.Kind) []schemas.Record {
	t.Helper()
	var out []schemas.Record
	if err := Records(cfg, lang, kind, func(r schemas.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

var small = Config{Dataset: "synth", Model: "synthetic", Langs: []string{"de", "en"}, Questions: 200, Candidates: 4000, Dim: 64, Seed: 1}

// A pool is LAReQA-shaped: a query per question and language, each question answered by exactly one
// candidate per language, every vector of unit length; the same config gives the same records, and
// another seed others.
func TestRecordsAreLAReQAShapedAndSeeded(t *testing.T) {
	for _, lang := range small.Langs {
		qs, cs := collect(t, small, lang, domain.Query), collect(t, small, lang, domain.Candidate)
		if len(qs) != small.Questions || len(cs) != small.Candidates {
			t.Fatalf("%s: %d queries and %d candidates, want %d and %d", lang, len(qs), len(cs), small.Questions, small.Candidates)
		}
		answers := map[string]int{}
		for _, c := range cs {
			for _, q := range c.QIDs {
				answers[q]++
			}
		}
		for _, q := range qs {
			if answers[q.QID] != 1 {
				t.Fatalf("%s: question %s has %d answers, want 1", lang, q.QID, answers[q.QID])
			}
		}
		for _, r := range append(qs, cs...) {
			if n := retrieval.Score(r.Vector, r.Vector); len(r.Vector) != small.Dim || n < 0.999 || n > 1.001 {
				t.Fatalf("%s: %d components of squared length %v, want %d of length 1", r.ID, len(r.Vector), n, small.Dim)
			}
		}
	}
	again := collect(t, small, "en", domain.Candidate)
	if !reflect.DeepEqual(again, collect(t, small, "en", domain.Candidate)) {
		t.Error("the same config gave other records")
	}
	other := small
	other.Seed = 2
	if reflect.DeepEqual(again[0].Vector, collect(t, other, "en", domain.Candidate)[0].Vector) {
		t.Error("another seed gave the same vectors")
	}
}

// Retrieval in a pool is neither trivial nor hopeless: a query's answer ranks first for some queries
// but not for all (a pool every answer tops measures nothing), monolingually and in the multilingual
// pool, and a query's own language ranks its answer higher than another language does; at any dimension.
func TestPoolIsNotTriviallySeparable(t *testing.T) {
	for _, dim := range []int{64, 256} {
		t.Run(fmt.Sprint("dimension ", dim), func(t *testing.T) {
			cfg := small
			cfg.Dim = dim
			notTriviallySeparable(t, cfg)
		})
	}
}

func notTriviallySeparable(t *testing.T, small Config) {
	top1 := func(qLang string, cLangs ...string) float64 {
		qs := collect(t, small, qLang, domain.Query)
		var cs []schemas.Record
		for _, l := range cLangs {
			cs = append(cs, collect(t, small, l, domain.Candidate)...)
		}
		relevant := map[string][]int{}
		var cv []float32
		for i, c := range cs {
			cv = append(cv, c.Vector...)
			for _, q := range c.QIDs {
				relevant[q] = append(relevant[q], i)
			}
		}
		var qv []float32
		for _, q := range qs {
			qv = append(qv, q.Vector...)
		}
		res, err := retrieval.Search(context.Background(), qv, cv, small.Dim, 1, func(q int) []int { return relevant[qs[q].QID] }, 2)
		if err != nil {
			t.Fatal(err)
		}
		hits := 0
		for _, r := range res {
			for _, rank := range r.RelevantRanks {
				if rank == 1 {
					hits++
				}
			}
		}
		return float64(hits) / float64(len(res))
	}
	mono, cross, multi := top1("en", "en"), top1("en", "de"), top1("en", "de", "en")
	t.Logf("top-1 accuracy: mono %.2f, cross %.2f, multi (either answer first) %.2f", mono, cross, multi)
	for name, acc := range map[string]float64{"mono": mono, "cross": cross, "multi": multi} {
		if acc < 0.05 || acc > 0.95 {
			t.Errorf("%s top-1 accuracy %.2f: want between 0.05 and 0.95", name, acc)
		}
	}
	if cross >= mono {
		t.Errorf("cross-lingual top-1 %.2f >= monolingual %.2f: the language lean does not show", cross, mono)
	}
}

func TestCheckRefusesPoolsThatCannotBeGenerated(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no languages", func(c *Config) { c.Langs = nil }, "at least one language"},
		{"fewer candidates than answers", func(c *Config) { c.Candidates = c.Questions - 1 }, "candidates >= questions"},
		{"one dimension", func(c *Config) { c.Dim = 1 }, "dimension 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := small
			tt.edit(&c)
			err := Records(c, "en", domain.Query, func(schemas.Record) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
