package score

import (
	"math"
	"strings"
	"testing"

	"xling/domain"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

func tokens(lang string, kind domain.Kind, id, qid string, qids []string, ids ...int64) schemas.Record {
	return schemas.Record{Dataset: "toy", Lang: lang, Kind: kind, ID: id, QID: qid, QIDs: qids, TokenIDs: ids}
}

// A lexical toy dataset, every ranking worked by hand (k1 0.9, b 0.4; a candidate sharing no term with the
// query scores 0 and ranks after the scored ones, by index):
//
//	en queries: A [1], B [2]    en candidates: e1 answers A [1 5], e2 answers B [2 5]
//	de queries: A [1], B [3]    de candidates: d1 answers A [1],   d2 answers B [3]
//
// Mono: every query's only matching candidate is its answer: mAP 1 in en and de. In en, A scores e1
// idf*tf*(k1+1)/(tf+k1) = ln(1 + 1.5/1.5) * 1.9/1.9 = ln 2 (N 2, df 1, |e1| = avgdl).
// en->de: A finds d1 (AP 1); B [2] matches nothing, so d1, d2 by index puts d2 2nd (AP 1/2): mAP .75.
// de->en: A finds e1 (AP 1); B [3] matches nothing: e1, e2, AP 1/2: mAP .75. Mo. 1, Cr. .75.
// Pool d1, d2, e1, e2 (avgdl 1.5): A [1] is in d1 (length 1) and e1 (length 2), and the shorter scores
// higher: d1, e1 at ranks 1, 2, AP 1 for both languages' A. en's B [2] finds only e2; the rest by index
// put d2 after d1: ranks 1 and 3, AP (1 + 2/3)/2 = 5/6. de's B [3] finds only d2; e2 has d1 and e1
// before it: ranks 1 and 4, AP (1 + 2/4)/2 = 3/4. Mul.: en 11/12, de 7/8, mean 43/48.
func TestLexicalStageRanksTokensByBM25(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	rows := []schemas.Record{
		tokens("en", domain.Query, "en/q/A", "A", nil, 1), tokens("en", domain.Query, "en/q/B", "B", nil, 2),
		tokens("en", domain.Candidate, "en/c/1", "", []string{"A"}, 1, 5), tokens("en", domain.Candidate, "en/c/2", "", []string{"B"}, 2, 5),
		tokens("de", domain.Query, "de/q/A", "A", nil, 1), tokens("de", domain.Query, "de/q/B", "B", nil, 3),
		tokens("de", domain.Candidate, "de/c/1", "", []string{"A"}, 1), tokens("de", domain.Candidate, "de/c/2", "", []string{"B"}, 3),
	}
	var markers []schemas.Marker
	for _, l := range []string{"en", "de"} {
		for _, k := range []domain.Kind{domain.Query, domain.Candidate} {
			markers = append(markers, schemas.Marker{Kind: schemas.StreamEnd, Dataset: "toy", Lang: l, ItemKind: k, Langs: []string{"de", "en"}})
		}
	}
	pipelinetest.Produce(t, ctx, w, w.Topics.Tokens(), "toy", rows, markers...)

	st := Stage(w.Topics, New(Config{Model: "bm25", TopK: 2, Lexical: true}, quiet()))
	if st.Input.Name != w.Topics.Tokens().Name {
		t.Fatalf("lexical score stage reads %s, want the tokens topic", st.Input.Name)
	}
	if err := pipeline.Run(ctx, w, st); err != nil {
		t.Fatal(err)
	}
	if dead := pipelinetest.DeadLetters(m, w); len(dead) > 0 {
		t.Fatalf("dead letters: %q", dead)
	}
	ms := pipelinetest.Read(t, m, w.Topics.Metrics()).Rows
	want := map[string]float64{
		"mono en en map": 1, "mono de de map": 1, "cross en de map": .75, "cross de en map": .75,
		"multi en * map": 11.0 / 12, "multi de * map": .875,
		"mono_mean * * map": 1, "cross_mean * * map": .75, "multi_mean * * map": 43.0 / 48,
	}
	for key, v := range want {
		f := strings.Fields(key)
		got, ok := find(ms, domain.Setting(f[0]), f[1], f[2], f[3])
		if !ok || !(math.Abs(got-v) <= 1e-12) {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, v)
		}
	}
	var top *schemas.Ranking
	rankings := pipelinetest.Read(t, m, w.Topics.Rankings()).Rows
	for i, r := range rankings {
		if r.Model != "bm25" {
			t.Fatalf("ranking %+v: model %q, want bm25", r, r.Model)
		}
		if r.Setting == domain.Mono && r.QueryID == "en/q/A" {
			top = &rankings[i]
		}
	}
	if top == nil || len(top.CandidateIDs) == 0 || top.CandidateIDs[0] != "en/c/1" || !(math.Abs(float64(top.Scores[0])-math.Ln2) <= 1e-6) ||
		len(top.Relevant) == 0 || top.Relevant[0] != 1 {
		t.Errorf("mono en/q/A's list = %+v, want en/c/1 first, scoring ln 2, relevant", top)
	}
}
