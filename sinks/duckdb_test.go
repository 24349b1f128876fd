package sinks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"xling/dataset"
	"xling/dataset/datasettest"
	"xling/domain"
	"xling/evaluate"
	"xling/internal/testenv"
	"xling/internal/testrun"
	"xling/sinks"
)

// duckAnswers are the answers of testdata/duckdb.mjs, the DuckDB queries of docs/usage.md.
type duckAnswers struct {
	PerLanguage []struct {
		Lang  string  `json:"query_lang"`
		Mono  float64 `json:"mono_map"`
		Multi float64 `json:"multi_map"`
	} `json:"perLanguage"`
	PerQuery []struct {
		Lang    string  `json:"query_lang"`
		Mono    float64 `json:"mono_map"`
		Queries int64   `json:"queries,string"`
	} `json:"perQuery"`
	Top10 []struct {
		Rank      int32   `json:"rank"`
		Candidate string  `json:"candidate_id"`
		Score     float64 `json:"score"`
		Relevant  bool    `json:"relevant"`
	} `json:"top10"`
	Embeddings []struct {
		Lang   string `json:"lang"`
		Kind   string `json:"kind"`
		N      int64  `json:"n,string"`
		DimMin int64  `json:"dim_min,string"`
		DimMax int64  `json:"dim_max,string"`
	} `json:"embeddings"`
	Nearest []struct {
		Candidate string  `json:"candidate_id"`
		Cosine    float64 `json:"cosine"`
	} `json:"nearest"`
}

func readRankings(t *testing.T, path string) []sinks.RankingRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := parquet.NewGenericReader[sinks.RankingRow](f)
	defer r.Close()
	rows := make([]sinks.RankingRow, r.NumRows())
	n, err := r.Read(rows)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return rows[:n]
}

// DuckDB, reading a real run's Parquet tables on its own, answers docs/usage.md's questions as xling does.
func TestDuckDBQueriesOverARunAgreeWithXling(t *testing.T) {
	modules := testenv.NodeModules(t, "@duckdb/node-api")
	langs := []string{"de", "en", "th"}
	const dim = 32 // testrun's model
	res := testrun.Run(t, t.TempDir(), testrun.Spec{Model: "random-a", Seed: 7, Dataset: dataset.XQuADR, Langs: langs, TopK: 10})

	// The query: the first English query of the multilingual rankings, as xling's Go reader reads them.
	rankings := readRankings(t, filepath.Join(res.Dir, "rankings.parquet"))
	var query string
	var top []sinks.RankingRow
	for _, r := range rankings {
		if r.Setting == string(domain.Multi) && r.QueryLang == "en" && (query == "" || r.QueryID == query) {
			query = r.QueryID
			top = append(top, r)
		}
	}
	if len(top) != 10 {
		t.Fatalf("query %s has %d multilingual ranking rows, want 10", query, len(top))
	}

	cmd := exec.Command("node", "testdata/duckdb.mjs", modules, res.Dir, query)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node duckdb.mjs: %v\n%s", err, stderr.String())
	}
	var got duckAnswers
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("duckdb.mjs output: %v\n%s", err, out)
	}

	// Per-language mAP: the rows xling's score stage reported for the run.
	if len(got.PerLanguage) != len(langs) || len(got.PerQuery) != len(langs) {
		t.Fatalf("DuckDB: %d and %d language rows, want %d", len(got.PerLanguage), len(got.PerQuery), len(langs))
	}
	for i, l := range langs {
		mono, ok1 := evaluate.Lookup(res.Metrics, dataset.XQuADR, domain.Mono, l, l, "map")
		multi, ok2 := evaluate.Lookup(res.Metrics, dataset.XQuADR, domain.Multi, l, domain.Pool, "map")
		pl := got.PerLanguage[i]
		if !ok1 || !ok2 || pl.Lang != l || !(math.Abs(pl.Mono-mono) <= 1e-12) || !(math.Abs(pl.Multi-multi) <= 1e-12) {
			t.Errorf("%s: DuckDB %+v, xling mono %v multi %v", l, pl, mono, multi)
		}
		// The mean of each query's own AP is the setting's mean, over as many queries.
		pq := got.PerQuery[i]
		var queries int64
		for _, m := range res.Metrics {
			if m.QueryID == "" && m.Setting == domain.Mono && m.QueryLang == l && m.Name == "map" {
				queries = m.Queries
			}
		}
		if pq.Lang != l || pq.Queries != queries || !(math.Abs(pq.Mono-mono) <= 1e-9) {
			t.Errorf("%s per query: DuckDB %+v, xling %v over %d queries", l, pq, mono, queries)
		}
	}

	// The top 10, as stored.
	if len(got.Top10) != 10 {
		t.Fatalf("DuckDB top 10 has %d rows", len(got.Top10))
	}
	for i, r := range top {
		d := got.Top10[i]
		if d.Rank != r.Rank || d.Candidate != r.CandidateID || d.Relevant != r.Relevant || d.Score != float64(r.Score) {
			t.Errorf("rank %d: DuckDB %+v, xling %+v", i+1, d, r)
		}
	}

	// Embeddings per language and kind: one per item of the dataset files, read here on their own.
	want := map[[2]string]int64{}
	for _, it := range datasettest.Items(t, testenv.DataDir(t), dataset.XQuADR, langs) {
		want[[2]string{it.Lang, string(it.Kind)}]++
	}
	if len(got.Embeddings) != len(want) {
		t.Errorf("DuckDB: %d (lang, kind) groups, want %d", len(got.Embeddings), len(want))
	}
	for _, e := range got.Embeddings {
		if n := want[[2]string{e.Lang, e.Kind}]; e.N != n || e.DimMin != dim || e.DimMax != dim {
			t.Errorf("%s %s: DuckDB %d vectors of dim %d..%d, want %d of dim %d", e.Lang, e.Kind, e.N, e.DimMin, e.DimMax, n, dim)
		}
	}

	// Exact search in SQL finds xling's ranking: the same candidates in the same order, up to float32
	// rounding, where a neighbour's score is within that rounding.
	if len(got.Nearest) != 10 {
		t.Fatalf("DuckDB nearest has %d rows", len(got.Nearest))
	}
	const tol = 1e-5
	for i, r := range top {
		d := got.Nearest[i]
		if !(math.Abs(d.Cosine-float64(r.Score)) <= tol) {
			t.Errorf("rank %d: DuckDB cosine %v, xling score %v", i+1, d.Cosine, r.Score)
		}
		if d.Candidate != r.CandidateID {
			tie := i > 0 && math.Abs(float64(top[i-1].Score-r.Score)) <= tol || i < 9 && math.Abs(float64(top[i+1].Score-r.Score)) <= tol
			if !tie {
				t.Errorf("rank %d: DuckDB %s, xling %s", i+1, d.Candidate, r.CandidateID)
			}
		}
	}
}
