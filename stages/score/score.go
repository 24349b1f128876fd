// Package score is the stage that evaluates retrieval: it gathers each dataset's query and candidate
// embeddings (or, for the lexical BM25 baseline, token ids) by language and, as each language completes,
// ranks exactly (cosine, or BM25 over the setting's candidates) in every new setting —
// the language against itself (monolingual) and against every complete language in both directions
// (cross-lingual) — then, once every language of the dataset is in, in the multilingual pool. It produces
// per-setting metrics, top-k rankings and the dataset's summary rows.
//
// A language that arrives later (a new run that ingests only it, into a scorer that holds the earlier
// languages: Load) adds only its own settings; the pool settings are recomputed because the pool changed,
// and replace the earlier pool's.
package score

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"

	"xling/domain"
	"xling/metrics"
	"xling/pipeline"
	"xling/retrieval"
	"xling/schemas"
)

const defaultTop = 10

// Config tunes the stage.
type Config struct {
	Model   string
	TopK    int // ranking entries kept per query and setting; 0 means 10
	Workers int // search goroutines; 0 means GOMAXPROCS
	// Lexical scores token ids by BM25 instead of embeddings by cosine: the stage then reads the tokens
	// topic, keyed by dataset (tokenize.Config.KeyByDataset).
	Lexical bool
}

type entry struct {
	id     string
	qid    string
	qids   []string
	vector []float32
	tokens []int64 // lexical: the term ids
}

type side struct {
	entries  []entry
	ids      map[string]bool // a replayed record is kept once
	rejected map[string]bool // records dead-lettered here, so the marker's count still reconciles
	want     int64           // count from the stream-end marker; -1 until it arrives
}

// add keeps e unless a replay delivered it before.
func (s *side) add(e entry) {
	if !s.ids[e.id] {
		s.ids[e.id] = true
		s.entries = append(s.entries, e)
	}
}

type language struct {
	queries, cands side
	scored         bool
}

type datasetState struct {
	name   string
	dim    int
	langs  map[string]*language
	expect []string // languages of the dataset in this run, from the markers
	table  metrics.Table
	pooled string // the language set the pool settings were last computed for
	done   bool   // the pool is scored: everything the dataset's records imply has been emitted
	model  string // the model that encoded the embeddings
	// crossByQuery holds each query's results in its cross-lingual settings, sorted by candidate language:
	// their scores are averaged in language order, so the mean is the same to the last bit whatever order
	// languages arrived in.
	crossByQuery map[string][]CrossResult
}

// CrossResult is a query's result in one cross-lingual setting: the ranks of its relevant candidates
// among N, from which metrics.Evaluate gives its scores again. Kept instead of the scores, it is a fifth
// of their memory, for every query of every language pair.
type CrossResult struct {
	Lang  string
	Ranks []int
	N     int
}

// setCross records q's result against candidates of lang, replacing an earlier one.
func (d *datasetState) setCross(q string, r CrossResult) {
	rs := d.crossByQuery[q]
	i, found := slices.BinarySearchFunc(rs, r.Lang, func(c CrossResult, l string) int { return strings.Compare(c.Lang, l) })
	if found {
		rs[i] = r
		return
	}
	d.crossByQuery[q] = slices.Insert(rs, i, r)
}

// Scorer holds the state of the datasets being evaluated.
type Scorer struct {
	cfg      Config
	datasets map[string]*datasetState
	log      *slog.Logger
}

// New returns an empty scorer.
func New(cfg Config, log *slog.Logger) *Scorer {
	if cfg.TopK <= 0 {
		cfg.TopK = defaultTop
	}
	return &Scorer{cfg: cfg, datasets: map[string]*datasetState{}, log: log}
}

// Output is what scoring produced.
type Output struct {
	Metrics  []schemas.Metric
	Rankings []schemas.Ranking
}

func (s *Scorer) dataset(name string) *datasetState {
	d := s.datasets[name]
	if d == nil {
		d = newDatasetState(name)
		s.datasets[name] = d
	}
	return d
}

func newDatasetState(name string) *datasetState {
	return &datasetState{name: name, langs: map[string]*language{}, crossByQuery: map[string][]CrossResult{}}
}

func (d *datasetState) lang(l string) *language {
	x := d.langs[l]
	if x == nil {
		x = &language{queries: newSide(), cands: newSide()}
		d.langs[l] = x
	}
	return x
}

func newSide() side { return side{ids: map[string]bool{}, rejected: map[string]bool{}, want: -1} }

// model names the model of a dataset's rows: the one that encoded its embeddings, else the configured one.
func (s *Scorer) model(d *datasetState) string {
	if d.model != "" {
		return d.model
	}
	return s.cfg.Model
}

// Reset forgets every dataset not yet done: after a rebalance their embeddings are read again, from the
// offsets committed when the scorer was last settled, by whichever member now holds them.
func (s *Scorer) Reset() {
	for name, d := range s.datasets {
		if !d.done {
			delete(s.datasets, name)
		}
	}
}

// Settled reports whether every dataset the scorer has seen records of is done: its state is then all in
// what it emitted, and nothing is lost if it forgets it.
func (s *Scorer) Settled() bool {
	for _, d := range s.datasets {
		if !d.done {
			return false
		}
	}
	return true
}

// Add takes embeddings, or token ids when the scorer is lexical; a vector of the wrong size is returned as
// an error for the caller to dead-letter.
func (s *Scorer) Add(r schemas.Record) error {
	d := s.dataset(r.Dataset)
	l := d.lang(r.Lang)
	var sd *side
	switch r.Kind {
	case domain.Query:
		sd = &l.queries
	case domain.Candidate:
		sd = &l.cands
	default:
		return fmt.Errorf("score: %s has kind %q", r.ID, r.Kind)
	}
	if d.dim == 0 && !s.cfg.Lexical {
		d.dim = len(r.Vector)
	}
	if l.scored {
		return nil // a replay of a language already scored: its settings are emitted
	}
	// A lexical record may have no token ids: a text without terms is a document that matches nothing.
	if !s.cfg.Lexical && (len(r.Vector) == 0 || len(r.Vector) != d.dim) {
		sd.rejected[r.ID] = true
		return fmt.Errorf("score: %s has a %d-dimensional vector, dataset %s has %d", r.ID, len(r.Vector), r.Dataset, d.dim)
	}
	d.done = false // a new record: the dataset has settings to score again
	if d.model == "" {
		d.model = r.Model
	}
	sd.add(entry{id: r.ID, qid: r.QID, qids: r.QIDs, vector: r.Vector, tokens: r.TokenIDs})
	return nil
}

// End closes a stream; when it completes a language (or the pool) the new settings are scored, and their
// rows returned. EndTo hands them on setting by setting instead.
func (s *Scorer) End(ctx context.Context, m schemas.Marker) (Output, error) {
	var all Output
	err := s.EndTo(ctx, m, func(o Output) error {
		all.Metrics = append(all.Metrics, o.Metrics...)
		all.Rankings = append(all.Rankings, o.Rankings...)
		return nil
	})
	return all, err
}

// EndTo is End, handing the rows to emit as each setting is scored (a pool over many languages is large,
// and is never held whole); emit's error ends the call. emit must not keep the slices it is handed: they
// are reused for the next rows.
func (s *Scorer) EndTo(ctx context.Context, m schemas.Marker, emit func(Output) error) error {
	d := s.dataset(m.Dataset)
	l := d.lang(m.Lang)
	if l.scored {
		return nil // a replayed marker of a language already scored
	}
	sd := &l.queries
	if m.ItemKind == domain.Candidate {
		sd = &l.cands
	}
	sd.want = m.Count
	if got := int64(len(sd.entries) + len(sd.rejected)); got != m.Count {
		return fmt.Errorf("score %s/%s %s: received %d records, the stream-end marker counts %d", m.Dataset, m.Lang, m.ItemKind, got, m.Count)
	}
	if len(m.Langs) > 0 {
		d.expect = m.Langs
	}
	out := &sink{emit: emit}
	if l.queries.want >= 0 && l.cands.want >= 0 && !l.scored {
		if err := s.scoreLanguage(ctx, d, m.Lang, out); err != nil {
			return err
		}
	}
	if err := s.maybePool(ctx, d, out); err != nil {
		return err
	}
	return out.flush()
}

// flushRankings is about how many ranked candidates (a query's list of k counts k) a sink gathers before it
// hands them on (some 10 MiB of rows).
const flushRankings = 1 << 16

// sink gathers the rows of a setting, or of a block of its queries, and hands them to emit.
type sink struct {
	Output
	emit func(Output) error
}

// flush hands on what the sink holds.
func (k *sink) flush() error {
	if len(k.Metrics) == 0 && len(k.Rankings) == 0 {
		return nil
	}
	err := k.emit(k.Output)
	// emit has encoded the rows or copied them: the next block reuses the slices rather than allocating
	// (and zeroing) some 10 MiB again.
	k.Metrics, k.Rankings = k.Metrics[:0], k.Rankings[:0]
	return err
}

func (d *datasetState) complete() []string {
	var done []string
	for name, l := range d.langs {
		if l.scored {
			done = append(done, name)
		}
	}
	slices.Sort(done)
	return done
}

func (s *Scorer) scoreLanguage(ctx context.Context, d *datasetState, lang string, out *sink) error {
	l := d.langs[lang]
	byID := func(a, b entry) int { return strings.Compare(a.id, b.id) }
	slices.SortFunc(l.queries.entries, byID)
	slices.SortFunc(l.cands.entries, byID)
	l.scored = true
	for _, other := range d.complete() {
		pairs := [][2]string{{lang, other}}
		if other != lang {
			pairs = append(pairs, [2]string{other, lang})
		}
		for _, p := range pairs {
			setting := domain.Cross
			if p[0] == p[1] {
				setting = domain.Mono
			}
			if err := s.rank(ctx, d, setting, p[0], p[1], d.langs[p[0]].queries.entries, d.langs[p[1]].cands.entries, nil, out); err != nil {
				return err
			}
			if err := out.flush(); err != nil {
				return err
			}
		}
	}
	s.log.Debug("scored language", "dataset", d.name, "lang", lang)
	return nil
}

// maybePool scores the multilingual setting once every expected language is complete, and writes the
// dataset's summary.
func (s *Scorer) maybePool(ctx context.Context, d *datasetState, out *sink) error {
	done := d.complete()
	if len(d.expect) == 0 {
		return nil
	}
	for _, l := range d.expect {
		if !slices.Contains(done, l) {
			return nil
		}
	}
	key := strings.Join(done, ",")
	if key == d.pooled {
		return nil
	}
	d.pooled, d.done = key, true
	var pool []entry
	for _, l := range done {
		pool = append(pool, d.langs[l].cands.entries...)
	}
	// Every language's queries search the same pool: it is laid out for the kernel once.
	packed, err := s.pack(d, pool)
	if err != nil {
		return fmt.Errorf("score %s: the pool: %w", d.name, err)
	}
	for _, l := range done {
		// The pool changed: its settings are scored afresh, not added to what an earlier pool gave.
		d.table.Put(metrics.Setting{Dataset: d.name, QueryLang: l, CandLang: metrics.Multi}, metrics.Accumulator{})
		if err := s.rank(ctx, d, domain.Multi, l, domain.Pool, d.langs[l].queries.entries, pool, packed, out); err != nil {
			return err
		}
		for _, q := range d.langs[l].queries.entries {
			if rs := d.crossByQuery[q.id]; len(rs) > 0 {
				var a metrics.Accumulator
				for _, r := range rs {
					sc, err := metrics.Evaluate(r.Ranks, r.N)
					if err != nil {
						return fmt.Errorf("score %s: query %s against %s: %w", d.name, q.id, r.Lang, err)
					}
					a.Add(sc)
				}
				out.Metrics = append(out.Metrics, s.rows(d, domain.Cross, l, domain.Pool, q.id, a.Mean(), a.Queries)...)
			}
		}
		if err := out.flush(); err != nil {
			return err
		}
	}
	out.Metrics = append(out.Metrics, s.summaryRows(d)...)
	return nil
}

// rank scores one setting: queries against candidates, packed (nil: laid out here) when they are vectors.
func (s *Scorer) rank(ctx context.Context, d *datasetState, setting domain.Setting, qLang, cLang string, qs, cs []entry, packed *retrieval.Candidates, out *sink) error {
	relevant := map[string][]int{}
	for i, c := range cs {
		for _, q := range c.qids {
			relevant[q] = append(relevant[q], i)
		}
	}
	// Queries without a relevant candidate here (MLQA-R questions missing from a language) are not part of
	// the setting, as in LAReQA.
	var kept []entry
	for _, q := range qs {
		if len(relevant[q.qid]) > 0 {
			kept = append(kept, q)
		}
	}
	if len(kept) == 0 || len(cs) == 0 {
		return nil
	}
	res, err := s.search(ctx, d, kept, cs, packed, func(q int) []int { return relevant[kept[q].qid] })
	if err != nil {
		return fmt.Errorf("score %s %s %s->%s: %w", d.name, setting, qLang, cLang, err)
	}
	st := metrics.Setting{Dataset: d.name, QueryLang: qLang, CandLang: cLang}
	if setting == domain.Multi {
		st.CandLang = metrics.Multi
	}
	var acc metrics.Accumulator
	// A setting adds up to TopK rankings and a metric set per query; they are handed on a block of
	// queries at a time, so a setting of many queries is never held whole.
	block := max(1, flushRankings/max(1, s.cfg.TopK))
	for i, r := range res {
		if i%block == 0 {
			if err := out.flush(); err != nil {
				return err
			}
			n := min(block, len(res)-i)
			out.Rankings = slices.Grow(out.Rankings, n)
			out.Metrics = slices.Grow(out.Metrics, n*len(metrics.All()))
		}
		sc, err := metrics.Evaluate(r.RelevantRanks, len(cs))
		if err != nil {
			return fmt.Errorf("score %s %s: query %s: %w", d.name, setting, kept[i].id, err)
		}
		acc.Add(sc)
		d.table.Add(st, sc)
		switch setting {
		case domain.Cross:
			d.setCross(kept[i].id, CrossResult{Lang: cLang, Ranks: r.RelevantRanks, N: len(cs)})
		default:
			out.Metrics = append(out.Metrics, s.rows(d, setting, qLang, cLang, kept[i].id, sc, 1)...)
		}
		list := schemas.Ranking{Dataset: d.name, Model: s.model(d), Setting: setting, QueryID: kept[i].id, QueryLang: qLang,
			CandLang: cLang, CandidateIDs: make([]string, len(r.Top)), Scores: make([]float32, len(r.Top))}
		for rank, h := range r.Top {
			c := cs[h.Index]
			list.CandidateIDs[rank], list.Scores[rank] = c.id, h.Score
			if slices.Contains(c.qids, kept[i].qid) {
				list.Relevant = append(list.Relevant, int64(rank+1))
			}
		}
		out.Rankings = append(out.Rankings, list)
	}
	out.Metrics = append(out.Metrics, s.rows(d, setting, qLang, cLang, "", acc.Mean(), acc.Queries)...)
	return nil
}

// search ranks cs for each of qs: by BM25 over cs when the scorer is lexical, else by inner product
// against packed, or cs laid out now when packed is nil.
func (s *Scorer) search(ctx context.Context, d *datasetState, qs, cs []entry, packed *retrieval.Candidates, relevant func(q int) []int) ([]retrieval.Result, error) {
	if s.cfg.Lexical {
		qt := make([][]int64, len(qs))
		for i, q := range qs {
			qt[i] = q.tokens
		}
		ct := make([][]int64, len(cs))
		for i, c := range cs {
			ct[i] = c.tokens
		}
		p := retrieval.DefaultBM25Params()
		p.Workers = s.cfg.Workers
		return retrieval.BM25(ctx, qt, ct, s.cfg.TopK, relevant, p)
	}
	if packed == nil {
		var err error
		if packed, err = s.pack(d, cs); err != nil {
			return nil, err
		}
	}
	qv := make([]float32, 0, len(qs)*d.dim)
	for _, q := range qs {
		qv = append(qv, q.vector...)
	}
	return packed.Search(ctx, qv, s.cfg.TopK, relevant, s.cfg.Workers)
}

// pack lays out the vectors of cs for search (nil for a lexical scorer, which has none).
func (s *Scorer) pack(d *datasetState, cs []entry) (*retrieval.Candidates, error) {
	if s.cfg.Lexical {
		return nil, nil
	}
	return retrieval.NewCandidates(len(cs), d.dim, func(i int) []float32 { return cs[i].vector })
}

// rows makes one row per metric: a mean over queries, or one query's values when queryID is set.
func (s *Scorer) rows(d *datasetState, setting domain.Setting, qLang, cLang, queryID string, sc metrics.Scores, queries int) []schemas.Metric {
	rows := make([]schemas.Metric, 0, len(sc))
	for _, m := range metrics.All() {
		if math.IsNaN(sc[m]) || queries == 0 {
			continue // undefined here: a degradation against an English score of 0, or an empty mean
		}
		rows = append(rows, schemas.Metric{Dataset: d.name, Model: s.model(d), Setting: setting, QueryLang: qLang,
			CandLang: cLang, QueryID: queryID, Name: m.String(), Value: sc[m], Queries: int64(queries)})
	}
	return rows
}

func (s *Scorer) summaryRows(d *datasetState) []schemas.Metric {
	sum := d.table.Summarize(d.name)
	all := domain.Pool
	rows := s.rows(d, domain.MonoMean, all, all, "", sum.Mono, sum.MonoSettings)
	rows = append(rows, s.rows(d, domain.CrossMean, all, all, "", sum.Cross, sum.CrossSettings)...)
	rows = append(rows, s.rows(d, domain.MultiMean, all, all, "", sum.Multi, sum.MultiLanguages)...)
	en, haveEn := sum.Languages[domain.English]
	for _, lang := range d.complete() {
		ls := sum.Languages[lang]
		rows = append(rows, s.rows(d, domain.LangCross, lang, all, "", ls.Cross, ls.CrossSettings)...)
		if haveEn {
			rows = append(rows, s.rows(d, domain.DegrMulti, lang, all, "", metrics.Degradation(ls.Multi, en.Multi), ls.MultiQueries)...)
			rows = append(rows, s.rows(d, domain.DegrCross, lang, all, "", metrics.Degradation(ls.Cross, en.Cross), ls.CrossSettings)...)
		}
	}
	return rows
}

// Pending lists the datasets and languages that never completed, for the run's report.
func (s *Scorer) Pending() []string {
	var p []string
	for name, d := range s.datasets {
		for lang, l := range d.langs {
			if !l.scored {
				p = append(p, name+"/"+lang)
			}
		}
	}
	slices.Sort(p)
	return p
}

// Stage returns the score stage: embeddings in (tokens for a lexical scorer), rankings and metrics out. Its
// state (every vector of the datasets in progress) lives in memory, so it commits offsets only between
// datasets: a restarted scorer reads the dataset's records again, and what it emits again is the same rows,
// which the sinks keep once.
func Stage(topics pipeline.Topics, sc *Scorer) *pipeline.Stage[schemas.Record] {
	rankings, metricsTopic := topics.Rankings(), topics.Metrics()
	input := topics.Embeddings()
	if sc.cfg.Lexical {
		input = topics.Tokens()
	}
	return &pipeline.Stage[schemas.Record]{
		Name: "score", Input: input, Outputs: []string{rankings.Name, metricsTopic.Name},
		Process: func(_ context.Context, _ string, rows []schemas.Record, o *pipeline.Output) error {
			for i, r := range rows {
				if err := sc.Add(r); err != nil {
					o.Reject(i, r, err)
				}
			}
			return nil
		},
		End: func(ctx context.Context, _ string, m schemas.Marker, o *pipeline.Output) error {
			// Setting by setting: Emit hands large outputs to the producer as they grow (pipeline.Emit).
			return sc.EndTo(ctx, m, func(res Output) error {
				if err := pipeline.Emit(o, rankings, m.Dataset, res.Rankings...); err != nil {
					return err
				}
				return pipeline.Emit(o, metricsTopic, m.Dataset, res.Metrics...)
			})
		},
		Finish: func(context.Context, *pipeline.Output) error {
			if p := sc.Pending(); len(p) > 0 {
				return fmt.Errorf("score: run ended with incomplete languages %v", p)
			}
			return nil
		},
		Settled: sc.Settled,
		Reset:   sc.Reset,
	}
}
