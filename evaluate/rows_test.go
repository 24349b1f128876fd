package evaluate

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"xling/schemas"
	"xling/sinks"
)

// A query's list becomes a table row per rank, relevant where its rank is listed; a list whose scores or
// relevant ranks do not fit its candidates is refused, naming the query.
func TestARankingListBecomesARowPerRank(t *testing.T) {
	at := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	run := rowsOf{run: "r", versions: map[string]string{"xquad-r": "v1"}, time: at}
	list := schemas.Ranking{Dataset: "xquad-r", Model: "m", Setting: "cross", QueryID: "en/q/1", QueryLang: "en", CandLang: "th",
		CandidateIDs: []string{"th/c/3", "th/c/1", "th/c/2"}, Scores: []float32{0.5, 0.25, -1}, Relevant: []int64{2, 3}}
	row := func(rank int32, id string, score float32, relevant bool) sinks.RankingRow {
		return sinks.RankingRow{RunID: "r", Model: "m", Dataset: "xquad-r", Setting: "cross", QueryID: "en/q/1", QueryLang: "en",
			CandLang: "th", Rank: rank, CandidateID: id, Score: score, Relevant: relevant, DatasetVersion: "v1", Time: at}
	}
	earlier := []sinks.RankingRow{row(9, "kept", 0, false)}
	got, err := run.rankings(list, earlier)
	want := []sinks.RankingRow{earlier[0], row(1, "th/c/3", 0.5, false), row(2, "th/c/1", 0.25, true), row(3, "th/c/2", -1, true)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("rows = %+v, %v\nwant %+v", got, err, want)
	}

	for _, tc := range []struct {
		name   string
		change func(*schemas.Ranking)
		want   string
	}{
		{"a score short", func(r *schemas.Ranking) { r.Scores = r.Scores[:2] }, "2 scores for 3 candidates"},
		{"a relevant rank past the list", func(r *schemas.Ranking) { r.Relevant = []int64{4} }, "relevant ranks [4]"},
		{"relevant ranks out of order", func(r *schemas.Ranking) { r.Relevant = []int64{3, 2} }, "relevant ranks [3 2]"},
		{"a relevant rank of 0", func(r *schemas.Ranking) { r.Relevant = []int64{0} }, "relevant ranks [0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := list
			bad.Scores, bad.Relevant = append([]float32(nil), list.Scores...), append([]int64(nil), list.Relevant...)
			tc.change(&bad)
			_, err := run.rankings(bad, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "en/q/1") {
				t.Fatalf("error %v, want one naming query en/q/1 and %q", err, tc.want)
			}
		})
	}
}
