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
//
// Scoring can be sharded (Config.Shard; evaluate's --score-shards): each shard (ShardStage) is a consumer
// group of its own on the embeddings, so it sees every record, and keeps the candidates ShardOf deals it
// by id, every query, and the relevant candidates (their scores say which of its own rank before them).
// It runs the same settings as one scorer and emits, per query, its best TopK and its count before each
// relevant candidate on the partials topic; the merge stage (MergeStage) combines the shards' answers into
// the rankings and metrics one scorer gives, value for value: the pool's order (language, then id) breaks
// ties in every shard and in the merge alike.
package score

import (
	"context"
	"fmt"
	"hash/fnv"
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
	// Shard, when Of > 1, makes the scorer one shard of a sharded scorer (embeddings only): it keeps the
	// candidates that ShardOf deals to it, every query, and every relevant candidate (a shard must score
	// the relevant candidates it does not hold to count its own that rank before them), and emits each
	// query's partial answer for the merge stage (Merger) instead of rankings and metrics. Its memory
	// grows with its shard, the queries and the relevant candidates, not with the whole pool.
	Shard Shard
}

// Shard is a scorer's place among a sharded scorer's: Index of Of.
type Shard struct{ Index, Of int }

// sharded reports whether the scorer is one shard of several.
func (c Config) sharded() bool { return c.Shard.Of > 1 }

// ShardOf deals a candidate to one of n shards by its id (FNV-1a): the same shard in every run and worker.
func ShardOf(id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(n))
}

type entry struct {
	id     string
	lang   string
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
	// A shard's candidates of other shards: the relevant ones kept for their scores (foreign), the others
	// counted by a hash of their id (dropped) so the marker's count still reconciles.
	foreign    []entry
	foreignIDs map[string]bool
	dropped    map[uint64]struct{}
}

// received counts the distinct records of the stream seen, kept or not.
func (s *side) received() int64 {
	return int64(len(s.entries) + len(s.rejected) + len(s.foreign) + len(s.dropped))
}

// addForeign keeps e, a relevant candidate of another shard, unless a replay delivered it before.
func (s *side) addForeign(e entry) {
	if !s.foreignIDs[e.id] {
		s.foreignIDs[e.id] = true
		s.foreign = append(s.foreign, e)
	}
}

// drop counts a candidate of another shard that no query needs.
func (s *side) drop(id string) {
	h := fnv.New64a()
	h.Write([]byte(id))
	s.dropped[h.Sum64()] = struct{}{}
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
	// packed holds the candidates laid out for the kernel, once the language is scored (embeddings
	// only): every setting with them on the candidate side, the pool's included, searches this one
	// copy, and their entries drop their vectors (Candidates.Vector gives them back).
	packed *retrieval.Candidates
}

// layout returns the language's candidates laid out (nil for a lexical scorer), laying them out on the
// first call.
func (s *Scorer) layout(d *datasetState, l *language) (*retrieval.Candidates, error) {
	if s.cfg.Lexical || l.packed != nil {
		return l.packed, nil
	}
	es := l.cands.entries
	packed, err := retrieval.NewCandidates(len(es), d.dim, func(i int) []float32 { return es[i].vector })
	if err != nil {
		return nil, err
	}
	for i := range es {
		es[i].vector = nil
	}
	l.packed = packed
	return packed, nil
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
	seq          int64 // a shard's partial events of the dataset so far
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
	Partials []schemas.Partial // a shard's answers (Config.Shard), for the merge stage
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

func newSide() side {
	return side{ids: map[string]bool{}, rejected: map[string]bool{}, want: -1, foreignIDs: map[string]bool{}, dropped: map[uint64]struct{}{}}
}

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
	e := entry{id: r.ID, lang: r.Lang, qid: r.QID, qids: r.QIDs, vector: r.Vector, tokens: r.TokenIDs}
	if s.cfg.sharded() && r.Kind == domain.Candidate && ShardOf(r.ID, s.cfg.Shard.Of) != s.cfg.Shard.Index {
		if len(r.QIDs) == 0 {
			sd.drop(r.ID)
		} else {
			sd.addForeign(e)
		}
		return nil
	}
	sd.add(e)
	return nil
}

// End closes a stream; when it completes a language (or the pool) the new settings are scored, and their
// rows returned. EndTo hands them on setting by setting instead.
func (s *Scorer) End(ctx context.Context, m schemas.Marker) (Output, error) {
	var all Output
	err := s.EndTo(ctx, m, func(o Output) error {
		all.Metrics = append(all.Metrics, o.Metrics...)
		all.Rankings = append(all.Rankings, o.Rankings...)
		all.Partials = append(all.Partials, o.Partials...)
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
	if got := sd.received(); got != m.Count {
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
	if len(k.Metrics) == 0 && len(k.Rankings) == 0 && len(k.Partials) == 0 {
		return nil
	}
	err := k.emit(k.Output)
	// emit has encoded the rows or copied them: the next block reuses the slices rather than allocating
	// (and zeroing) some 10 MiB again.
	k.Metrics, k.Rankings, k.Partials = k.Metrics[:0], k.Rankings[:0], k.Partials[:0]
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
	slices.SortFunc(l.cands.foreign, byID)
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
			cands, err := s.poolOf(d, p[1])
			if err != nil {
				return fmt.Errorf("score %s: %s candidates: %w", d.name, p[1], err)
			}
			if err := s.rank(ctx, d, setting, p[0], p[1], d.langs[p[0]].queries.entries, cands, out); err != nil {
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
	// The pool is the languages' candidates in language order, each language's by id: a shard's part of
	// it keeps that order, so ties break between shards as they would in one pool. It is searched as the
	// languages' own layouts, never copied whole.
	all, err := s.poolOf(d, done...)
	if err != nil {
		return fmt.Errorf("score %s: the pool: %w", d.name, err)
	}
	for _, l := range done {
		if !s.cfg.sharded() {
			s.startSetting(d, domain.Multi, l)
		}
		if err := s.rank(ctx, d, domain.Multi, l, domain.Pool, d.langs[l].queries.entries, all, out); err != nil {
			return err
		}
		if !s.cfg.sharded() {
			ids := make([]string, len(d.langs[l].queries.entries))
			for i, q := range d.langs[l].queries.entries {
				ids[i] = q.id
			}
			if err := s.crossRows(d, l, ids, out); err != nil {
				return err
			}
		}
		if err := out.flush(); err != nil {
			return err
		}
	}
	if s.cfg.sharded() {
		s.partial(d, out, schemas.Partial{Event: schemas.PartialPool, Langs: done})
		return nil
	}
	out.Metrics = append(out.Metrics, s.summaryRows(d)...)
	return nil
}

// startSetting is called before a setting's queries are ranked: the pool changed, so its settings are
// scored afresh, not added to what an earlier pool gave.
func (s *Scorer) startSetting(d *datasetState, setting domain.Setting, qLang string) {
	if setting == domain.Multi {
		d.table.Put(metrics.Setting{Dataset: d.name, QueryLang: qLang, CandLang: metrics.Multi}, metrics.Accumulator{})
	}
}

// crossRows adds, for each query of ids (lang's, by id) with cross-lingual results, the mean of its
// scores over the other languages.
func (s *Scorer) crossRows(d *datasetState, lang string, ids []string, out *sink) error {
	for _, id := range ids {
		if rs := d.crossByQuery[id]; len(rs) > 0 {
			var a metrics.Accumulator
			for _, r := range rs {
				sc, err := metrics.Evaluate(r.Ranks, r.N)
				if err != nil {
					return fmt.Errorf("score %s: query %s against %s: %w", d.name, id, r.Lang, err)
				}
				a.Add(sc)
			}
			out.Metrics = append(out.Metrics, s.rows(d, domain.Cross, lang, domain.Pool, id, a.Mean(), a.Queries)...)
		}
	}
	return nil
}

// pool is a setting's candidates as a scorer holds them: its own (all of them, unless the scorer is a
// shard) as each language's entries and layout, and a shard's relevant candidates of other shards, each
// part in the setting's order.
type pool struct {
	local   [][]entry       // by language
	packed  retrieval.Parts // the layouts of local's non-empty languages (none for a lexical scorer)
	foreign []entry
	n       int // candidates in local
}

// poolOf returns the candidates of langs, in order.
func (s *Scorer) poolOf(d *datasetState, langs ...string) (pool, error) {
	var p pool
	for _, name := range langs {
		l := d.langs[name]
		packed, err := s.layout(d, l)
		if err != nil {
			return p, err
		}
		if len(l.cands.entries) > 0 {
			p.local = append(p.local, l.cands.entries)
			if packed != nil {
				p.packed = append(p.packed, packed)
			}
		}
		p.foreign = append(p.foreign, l.cands.foreign...)
		p.n += len(l.cands.entries)
	}
	return p, nil
}

// at returns the pool's own candidate i.
func (p *pool) at(i int) *entry {
	for _, es := range p.local {
		if i < len(es) {
			return &es[i]
		}
		i -= len(es)
	}
	panic(fmt.Sprintf("score: candidate %d of a pool of %d", i, p.n))
}

// insertion returns where c stands, or would stand, among the pool's own candidates.
func (p *pool) insertion(c *entry) int {
	at := 0
	for _, es := range p.local {
		i, _ := slices.BinarySearchFunc(es, c, func(e entry, c *entry) int { return candidateOrder(&e, c) })
		at += i
	}
	return at
}

// partial adds a shard's event to out, numbered and labelled.
func (s *Scorer) partial(d *datasetState, out *sink, p schemas.Partial) {
	p.Dataset, p.Model, p.Shard, p.Shards, p.Seq = d.name, s.model(d), int64(s.cfg.Shard.Index), int64(s.cfg.Shard.Of), d.seq
	d.seq++
	out.Partials = append(out.Partials, p)
}

// rank scores one setting: queries against candidates.
func (s *Scorer) rank(ctx context.Context, d *datasetState, setting domain.Setting, qLang, cLang string, qs []entry, cs pool, out *sink) error {
	if s.cfg.sharded() {
		return s.rankShard(ctx, d, setting, qLang, cLang, qs, cs, out)
	}
	relevant := map[string][]int{}
	i := 0
	for _, es := range cs.local {
		for _, c := range es {
			for _, q := range c.qids {
				relevant[q] = append(relevant[q], i)
			}
			i++
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
	if len(kept) == 0 || cs.n == 0 {
		return nil
	}
	res, err := s.search(ctx, d, kept, cs, func(q int) []int { return relevant[kept[q].qid] })
	if err != nil {
		return fmt.Errorf("score %s %s %s->%s: %w", d.name, setting, qLang, cLang, err)
	}
	sr := newSettingRows(d, setting, qLang, cLang)
	for i, r := range res {
		q := kept[i]
		err := s.addQuery(d, &sr, q.id, r.RelevantRanks, cs.n, len(r.Top), func(rank int) (string, float32, bool) {
			h := r.Top[rank]
			c := cs.at(h.Index)
			return c.id, h.Score, slices.Contains(c.qids, q.qid)
		}, out)
		if err != nil {
			return err
		}
	}
	s.endSetting(d, &sr, out)
	return nil
}

// settingRows is one setting's rows in the making: its labels, and the mean of its queries' scores.
type settingRows struct {
	setting      domain.Setting
	qLang, cLang string
	st           metrics.Setting
	acc          metrics.Accumulator
}

func newSettingRows(d *datasetState, setting domain.Setting, qLang, cLang string) settingRows {
	st := metrics.Setting{Dataset: d.name, QueryLang: qLang, CandLang: cLang}
	if setting == domain.Multi {
		st.CandLang = metrics.Multi
	}
	return settingRows{setting: setting, qLang: qLang, cLang: cLang, st: st}
}

// addQuery adds one query's result to its setting: the ranks of its relevant candidates among n, and
// its top list (top entries, hit(rank) giving each one's id, score and relevance). A setting adds up to
// TopK rankings and a metric set per query; they are handed on a block of queries at a time, so a
// setting of many queries is never held whole.
func (s *Scorer) addQuery(d *datasetState, sr *settingRows, queryID string, ranks []int, n, top int, hit func(rank int) (string, float32, bool), out *sink) error {
	if len(out.Rankings) >= max(1, flushRankings/max(1, s.cfg.TopK)) {
		if err := out.flush(); err != nil {
			return err
		}
	}
	sc, err := metrics.Evaluate(ranks, n)
	if err != nil {
		return fmt.Errorf("score %s %s: query %s: %w", d.name, sr.setting, queryID, err)
	}
	sr.acc.Add(sc)
	d.table.Add(sr.st, sc)
	switch sr.setting {
	case domain.Cross:
		d.setCross(queryID, CrossResult{Lang: sr.cLang, Ranks: ranks, N: n})
	default:
		out.Metrics = append(out.Metrics, s.rows(d, sr.setting, sr.qLang, sr.cLang, queryID, sc, 1)...)
	}
	list := schemas.Ranking{Dataset: d.name, Model: s.model(d), Setting: sr.setting, QueryID: queryID, QueryLang: sr.qLang,
		CandLang: sr.cLang, CandidateIDs: make([]string, top), Scores: make([]float32, top)}
	for rank := range top {
		id, score, relevant := hit(rank)
		list.CandidateIDs[rank], list.Scores[rank] = id, score
		if relevant {
			list.Relevant = append(list.Relevant, int64(rank+1))
		}
	}
	out.Rankings = append(out.Rankings, list)
	return nil
}

// endSetting adds the setting's mean row.
func (s *Scorer) endSetting(d *datasetState, sr *settingRows, out *sink) {
	out.Metrics = append(out.Metrics, s.rows(d, sr.setting, sr.qLang, sr.cLang, "", sr.acc.Mean(), sr.acc.Queries)...)
}

// candidateOrder is the order of a setting's candidates: by language (the pool's languages in order),
// then by id.
func candidateOrder(a, b *entry) int {
	if c := strings.Compare(a.lang, b.lang); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// target is a relevant candidate as a shard ranks it: where it stands among the shard's candidates (its
// own index if the shard holds it, else its insertion point), and its vector.
type target struct {
	at     int
	vector []float32
}

// rankShard is rank for one shard of a sharded scorer: for each query of the setting it emits the
// shard's best candidates and, for each relevant candidate of the whole setting, the number of the
// shard's candidates that rank before it. Every shard keeps the same queries (the relevant candidates
// are known to all), so every shard emits the same events.
func (s *Scorer) rankShard(ctx context.Context, d *datasetState, setting domain.Setting, qLang, cLang string, qs []entry, cs pool, out *sink) error {
	// The setting's relevant candidates, the shard's own and the others', in the setting's order: the
	// order of each query's relevant ranks.
	var rel []*entry
	for _, es := range cs.local {
		for i := range es {
			if len(es[i].qids) > 0 {
				rel = append(rel, &es[i])
			}
		}
	}
	for i := range cs.foreign {
		rel = append(rel, &cs.foreign[i])
	}
	slices.SortFunc(rel, candidateOrder)
	relevant := map[string][]target{}
	for _, c := range rel {
		t := target{at: cs.insertion(c), vector: c.vector}
		if t.vector == nil { // the shard's own, laid out
			t.vector = cs.packed.Vector(t.at)
		}
		for _, q := range c.qids {
			relevant[q] = append(relevant[q], t)
		}
	}
	var kept []entry
	for _, q := range qs {
		if len(relevant[q.qid]) > 0 {
			kept = append(kept, q)
		}
	}
	end := schemas.Partial{Event: schemas.PartialSetting, Setting: setting, QueryLang: qLang, CandLang: cLang, Candidates: int64(cs.n), Queries: int64(len(kept))}
	if len(kept) == 0 {
		s.partial(d, out, end)
		return nil
	}
	parts := make([]retrieval.Partial, len(kept))
	if cs.n > 0 {
		qv := make([]float32, 0, len(kept)*d.dim)
		for _, q := range kept {
			qv = append(qv, q.vector...)
		}
		targets := func(q int) []retrieval.Target {
			ts := relevant[kept[q].qid]
			out := make([]retrieval.Target, len(ts))
			for i, t := range ts {
				out[i] = retrieval.Target{Index: t.at, Score: retrieval.Score(kept[q].vector, t.vector)}
			}
			return out
		}
		var err error
		if parts, err = cs.packed.SearchShard(ctx, qv, s.cfg.TopK, targets, s.cfg.Workers); err != nil {
			return fmt.Errorf("score %s %s %s->%s: %w", d.name, setting, qLang, cLang, err)
		}
	}
	block := max(1, flushRankings/max(1, s.cfg.TopK))
	for i, q := range kept {
		if len(out.Partials) >= block {
			if err := out.flush(); err != nil {
				return err
			}
		}
		part := parts[i]
		p := schemas.Partial{Event: schemas.PartialQuery, Setting: setting, QueryID: q.id, QueryLang: qLang, CandLang: cLang, Candidates: int64(cs.n),
			CandidateIDs: make([]string, len(part.Top)), CandidateLangs: make([]string, len(part.Top)), Scores: make([]float32, len(part.Top)),
			Before: make([]int64, len(relevant[q.qid]))}
		for rank, h := range part.Top {
			c := cs.at(h.Index)
			p.CandidateIDs[rank], p.CandidateLangs[rank], p.Scores[rank] = c.id, c.lang, h.Score
			if slices.Contains(c.qids, q.qid) {
				p.Relevant = append(p.Relevant, int64(rank+1))
			}
		}
		for j, n := range part.Before { // nil when the shard holds no candidate of the setting: none rank before
			p.Before[j] = int64(n)
		}
		s.partial(d, out, p)
	}
	s.partial(d, out, end)
	return nil
}

// search ranks cs for each of qs: by BM25 over cs when the scorer is lexical, else by inner product
// against cs's layouts.
func (s *Scorer) search(ctx context.Context, d *datasetState, qs []entry, cs pool, relevant func(q int) []int) ([]retrieval.Result, error) {
	if s.cfg.Lexical {
		qt := make([][]int64, len(qs))
		for i, q := range qs {
			qt[i] = q.tokens
		}
		ct := make([][]int64, 0, cs.n)
		for _, es := range cs.local {
			for _, c := range es {
				ct = append(ct, c.tokens)
			}
		}
		p := retrieval.DefaultBM25Params()
		p.Workers = s.cfg.Workers
		return retrieval.BM25(ctx, qt, ct, s.cfg.TopK, relevant, p)
	}
	qv := make([]float32, 0, len(qs)*d.dim)
	for _, q := range qs {
		qv = append(qv, q.vector...)
	}
	return cs.packed.Search(ctx, qv, s.cfg.TopK, relevant, s.cfg.Workers)
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
