package evaluate

import (
	"cmp"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/dataset"
	"xling/internal/testenv"
	"xling/sinks"
)

// A run with sharded scoring (--score-shards) writes the rankings and metrics tables of a run with one
// scorer, row for row (the run's own columns aside), through the embedded broker, and its books balance.
func TestRunWithScoreShardsWritesOneScorersTables(t *testing.T) {
	data := testenv.DataDir(t)
	langs := []string{"de", "en", "zh"}
	model := smallModel(t)
	tables := func(shards int) ([]sinks.RankingRow, []sinks.MetricRow, []StageCounts) {
		cfg := Config{
			DataDir: data, OutDir: t.TempDir(), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: langs},
			Model: model, ModelName: "small", RunID: "shards", TopK: 5, ScoreShards: shards,
			ORTLibrary: testenv.ORTLibrary(t), Progress: time.Hour,
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		res, err := Run(ctx, cfg, quiet())
		if err != nil {
			t.Fatalf("%d shards: %v", shards, err)
		}
		rankings, err := parquet.ReadFile[sinks.RankingRow](filepath.Join(res.Dir, "rankings.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		metrics, err := parquet.ReadFile[sinks.MetricRow](filepath.Join(res.Dir, "metrics.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range rankings {
			rankings[i].Time = time.Time{}
		}
		for i := range metrics {
			metrics[i].Time = time.Time{}
		}
		slices.SortFunc(rankings, func(a, b sinks.RankingRow) int {
			return cmp.Or(strings.Compare(a.Setting, b.Setting), strings.Compare(a.QueryLang, b.QueryLang), strings.Compare(a.CandLang, b.CandLang),
				strings.Compare(a.QueryID, b.QueryID), cmp.Compare(a.Rank, b.Rank))
		})
		slices.SortFunc(metrics, func(a, b sinks.MetricRow) int {
			return cmp.Or(strings.Compare(a.Setting, b.Setting), strings.Compare(a.QueryLang, b.QueryLang), strings.Compare(a.CandLang, b.CandLang),
				strings.Compare(a.QueryID, b.QueryID), strings.Compare(a.Metric, b.Metric))
		})
		return rankings, metrics, res.Counts
	}
	oneR, oneM, _ := tables(1)
	gotR, gotM, counts := tables(3)
	if len(oneR) == 0 || len(oneM) == 0 {
		t.Fatal("one scorer wrote empty tables")
	}
	if !slices.Equal(gotR, oneR) {
		t.Errorf("rankings: 3 shards wrote %d rows, one scorer %d, and they differ", len(gotR), len(oneR))
	}
	if !slices.Equal(gotM, oneM) {
		t.Errorf("metrics: 3 shards wrote %d rows, one scorer %d, and they differ", len(gotM), len(oneM))
	}
	var stages []string
	for _, c := range counts {
		stages = append(stages, c.Stage)
	}
	if want := []string{Ingest, Tokenize, Encode, ScoreShard(0), ScoreShard(1), ScoreShard(2), ScoreMerge, SinkEmbeddings, SinkRankings, SinkMetrics}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	if p := Reconcile(counts); len(p) > 0 {
		t.Errorf("books do not balance: %v", p)
	}
}
