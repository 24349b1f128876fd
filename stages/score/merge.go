package score

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Merger is the merge stage's state: it combines the score shards' partial answers (Config.Shard) into
// the rankings and metrics one scorer would give, value for value. Every shard of a dataset emits the
// same events in the same order, so the merger takes them event by event, once every shard has sent
// its next one: a query's top list is the best TopK of the shards' lists (ties by language, then id, the
// whole pool's order), the rank of each relevant candidate one plus the candidates ranking before it in
// every shard, and its candidates the sum of the shards'.
type Merger struct {
	sc       *Scorer // the rows' bookkeeping and labels: a scorer that never holds a vector
	datasets map[string]*merging
}

// merging is one dataset being merged.
type merging struct {
	d       *datasetState
	shards  int
	next    []int64             // per shard: the Seq of the event it owes next
	waiting [][]schemas.Partial // per shard: events that came before the other shards' same event
	current *settingRows        // the setting being merged
	byLang  map[string][]string // cross-lingual queries by language: the pool's per-query cross rows
}

// NewMerger returns an empty merger; cfg's TopK is the scorer's, and Model the fallback model name.
func NewMerger(cfg Config, log *slog.Logger) *Merger {
	cfg.Shard = Shard{}
	return &Merger{sc: New(cfg, log), datasets: map[string]*merging{}}
}

// Add takes one shard event; whatever it completes (every shard has sent that event) is merged and its
// rows handed to emit.
func (m *Merger) Add(p schemas.Partial, emit func(Output) error) error {
	if p.Shards < 2 || p.Shard < 0 || p.Shard >= p.Shards {
		return fmt.Errorf("merge %s: event %d of shard %d of %d", p.Dataset, p.Seq, p.Shard, p.Shards)
	}
	ms := m.datasets[p.Dataset]
	if ms == nil {
		ms = &merging{d: m.sc.dataset(p.Dataset), shards: int(p.Shards), next: make([]int64, p.Shards),
			waiting: make([][]schemas.Partial, p.Shards), byLang: map[string][]string{}}
		m.datasets[p.Dataset] = ms
	}
	if int(p.Shards) != ms.shards {
		return fmt.Errorf("merge %s: shard %d counts %d shards, an earlier event %d", p.Dataset, p.Shard, p.Shards, ms.shards)
	}
	switch {
	case p.Seq < ms.next[p.Shard]:
		return nil // a replay: the shard restarted and sends again what it sent before
	case p.Seq > ms.next[p.Shard]:
		return fmt.Errorf("merge %s: shard %d sent event %d, want %d (events lost)", p.Dataset, p.Shard, p.Seq, ms.next[p.Shard])
	}
	ms.next[p.Shard]++
	ms.d.done = false
	if ms.d.model == "" {
		ms.d.model = p.Model
	}
	ms.waiting[p.Shard] = append(ms.waiting[p.Shard], p)
	out := &sink{emit: emit}
	heads := make([]schemas.Partial, ms.shards)
	for {
		for s, w := range ms.waiting {
			if len(w) == 0 {
				return out.flush()
			}
			heads[s] = w[0]
		}
		for s := range ms.waiting {
			ms.waiting[s][0] = schemas.Partial{} // let the event's slices go
			ms.waiting[s] = ms.waiting[s][1:]
		}
		if err := m.merge(ms, heads, out); err != nil {
			return err
		}
	}
}

// merge combines the shards' same event.
func (m *Merger) merge(ms *merging, heads []schemas.Partial, out *sink) error {
	d, h := ms.d, heads[0]
	for s, o := range heads[1:] {
		if o.Event != h.Event || o.Setting != h.Setting || o.QueryLang != h.QueryLang || o.CandLang != h.CandLang || o.QueryID != h.QueryID {
			return fmt.Errorf("merge %s: event %d: shard %d sent %s %s %s->%s %q, shard 0 %s %s %s->%s %q", d.name, h.Seq,
				s+1, o.Event, o.Setting, o.QueryLang, o.CandLang, o.QueryID, h.Event, h.Setting, h.QueryLang, h.CandLang, h.QueryID)
		}
	}
	if h.Event != schemas.PartialPool && ms.current == nil {
		m.sc.startSetting(d, h.Setting, h.QueryLang)
		sr := newSettingRows(d, h.Setting, h.QueryLang, h.CandLang)
		ms.current = &sr
	}
	switch h.Event {
	case schemas.PartialQuery:
		n, ranks, top, err := combine(heads, m.sc.cfg.TopK)
		if err != nil {
			return fmt.Errorf("merge %s %s %s->%s: query %s: %w", d.name, h.Setting, h.QueryLang, h.CandLang, h.QueryID, err)
		}
		if h.Setting == domain.Cross && len(d.crossByQuery[h.QueryID]) == 0 {
			ms.byLang[h.QueryLang] = append(ms.byLang[h.QueryLang], h.QueryID)
		}
		return m.sc.addQuery(d, ms.current, h.QueryID, ranks, n, len(top), func(rank int) (string, float32, bool) {
			return top[rank].id, top[rank].score, top[rank].relevant
		}, out)
	case schemas.PartialSetting:
		if h.Queries > 0 {
			m.sc.endSetting(d, ms.current, out)
		}
		ms.current = nil
		if h.Setting == domain.Multi {
			ids := slices.Clone(ms.byLang[h.QueryLang])
			slices.Sort(ids)
			if err := m.sc.crossRows(d, h.QueryLang, ids, out); err != nil {
				return err
			}
		}
		return out.flush()
	case schemas.PartialPool:
		for _, l := range h.Langs {
			d.lang(l).scored = true
		}
		d.pooled, d.done = strings.Join(h.Langs, ","), true
		out.Metrics = append(out.Metrics, m.sc.summaryRows(d)...)
		return nil
	}
	return fmt.Errorf("merge %s: event %d is %q", d.name, h.Seq, h.Event)
}

// hit is one entry of a merged top list.
type hit struct {
	id, lang string
	score    float32
	relevant bool
}

// combine merges one query's shard answers: its candidates, its relevant ranks and its best k.
func combine(heads []schemas.Partial, k int) (n int, ranks []int, top []hit, err error) {
	ranks = make([]int, len(heads[0].Before))
	for i := range ranks {
		ranks[i] = 1
	}
	for s, p := range heads {
		if len(p.Before) != len(ranks) {
			return 0, nil, nil, fmt.Errorf("shard %d counts %d relevant candidates, shard 0 %d", s, len(p.Before), len(ranks))
		}
		if len(p.CandidateLangs) != len(p.CandidateIDs) || len(p.Scores) != len(p.CandidateIDs) {
			return 0, nil, nil, fmt.Errorf("shard %d: %d candidates with %d languages and %d scores", s, len(p.CandidateIDs), len(p.CandidateLangs), len(p.Scores))
		}
		n += int(p.Candidates)
		for i, b := range p.Before {
			ranks[i] += int(b)
		}
		rel := p.Relevant
		for i, id := range p.CandidateIDs {
			r := len(rel) > 0 && rel[0] == int64(i+1)
			if r {
				rel = rel[1:]
			}
			top = append(top, hit{id: id, lang: p.CandidateLangs[i], score: p.Scores[i], relevant: r})
		}
	}
	// The order Search ranks by: higher score first, then the pool's order (language, then id). Scores
	// compare as floats, so -0 ties with +0 as it does there.
	slices.SortFunc(top, func(a, b hit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		if c := strings.Compare(a.lang, b.lang); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return n, ranks, top[:min(k, len(top))], nil
}

// Settled reports whether every dataset the merger has seen events of is done.
func (m *Merger) Settled() bool {
	for _, ms := range m.datasets {
		if !ms.d.done {
			return false
		}
	}
	return true
}

// Reset forgets every dataset not yet done: after a rebalance its events are read again from the
// offsets committed when the merger was last settled.
func (m *Merger) Reset() {
	for name, ms := range m.datasets {
		if !ms.d.done {
			delete(m.datasets, name)
			delete(m.sc.datasets, name)
		}
	}
}

// Pending lists the datasets whose pool was never merged.
func (m *Merger) Pending() []string {
	var p []string
	for name, ms := range m.datasets {
		if !ms.d.done {
			p = append(p, name)
		}
	}
	slices.Sort(p)
	return p
}

// ShardStage returns one score shard: the score stage over the candidates sc's Config.Shard deals to it,
// in a consumer group of its own ("score-shard-<index>") so that it reads every embedding, writing its
// partial answers to the partials topic.
func ShardStage(topics pipeline.Topics, sc *Scorer) *pipeline.Stage[schemas.Record] {
	st := Stage(topics, sc)
	partials := topics.Partials()
	st.Name = fmt.Sprintf("score-shard-%d", sc.cfg.Shard.Index)
	st.Outputs = []string{partials.Name}
	st.Replica = pipeline.Replica{Index: sc.cfg.Shard.Index, Of: sc.cfg.Shard.Of}
	st.End = func(ctx context.Context, _ string, mk schemas.Marker, o *pipeline.Output) error {
		return sc.EndTo(ctx, mk, func(res Output) error {
			return pipeline.Emit(o, partials, mk.Dataset, res.Partials...)
		})
	}
	return st
}

// MergeStage returns the merge stage: the shards' partial answers in, rankings and metrics out, as the
// score stage writes them. Like the scorer it commits offsets only between datasets.
func MergeStage(topics pipeline.Topics, m *Merger) *pipeline.Stage[schemas.Partial] {
	rankings, metricsTopic := topics.Rankings(), topics.Metrics()
	return &pipeline.Stage[schemas.Partial]{
		Name: "score-merge", Input: topics.Partials(), Outputs: []string{rankings.Name, metricsTopic.Name},
		Process: func(_ context.Context, key string, rows []schemas.Partial, o *pipeline.Output) error {
			// A message's events give a row or two each: they are encoded together, not as a message
			// per event.
			var rs []schemas.Ranking
			var ms []schemas.Metric
			for _, p := range rows {
				if p.Dataset != key {
					return fmt.Errorf("score merge: an event of dataset %s on key %q", p.Dataset, key)
				}
				err := m.Add(p, func(res Output) error {
					rs, ms = append(rs, res.Rankings...), append(ms, res.Metrics...)
					return nil
				})
				if err != nil {
					return err
				}
			}
			if err := pipeline.Emit(o, rankings, key, rs...); err != nil {
				return err
			}
			return pipeline.Emit(o, metricsTopic, key, ms...)
		},
		Finish: func(context.Context, *pipeline.Output) error {
			if p := m.Pending(); len(p) > 0 {
				return fmt.Errorf("score merge: run ended with datasets not merged %v", p)
			}
			return nil
		},
		Settled: m.Settled,
		Reset:   m.Reset,
	}
}
