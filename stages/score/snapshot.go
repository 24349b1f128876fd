package score

import (
	"encoding/binary"
	"encoding/gob"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"xling/metrics"
	"xling/retrieval"
)

// A snapshot is the scorer's state in exported form, for encoding/gob: what a long-running evaluator
// (xling serve) keeps on disk between updates, so that a new language is scored against the languages
// already in without their items being read or encoded again.
type snapshot struct {
	Format   int // snapshotFormat when written; Load refuses any other
	Datasets []datasetSnapshot
}

// snapshotFormat changes whenever a snapshot's fields change meaning: gob would read an older snapshot
// into the new fields without a word, leaving what it lacks empty. 2: vectors as little-endian bytes, cross
// results as ranks.
const snapshotFormat = 2

type datasetSnapshot struct {
	Name         string
	Dim          int
	Langs        []langSnapshot
	Expect       []string
	Settings     []metrics.Setting
	Accumulators []metrics.Accumulator
	Pooled       string
	Model        string
	CrossByQuery map[string][]CrossResult
}

type langSnapshot struct {
	Lang           string
	Queries, Cands []entrySnapshot
	QueryWant      int64
	CandWant       int64
}

type entrySnapshot struct {
	ID, QID string
	QIDs    []string
	Vector  []byte // little-endian float32s: gob writes a []float32 one value at a time, ten times slower
	Tokens  []int64
}

// Save writes the scorer's state. Only a settled scorer (every dataset it holds is done) can be saved: a
// dataset in progress would be restored half-read.
func (s *Scorer) Save(w io.Writer) error {
	if !s.Settled() {
		return fmt.Errorf("score: save: datasets are in progress")
	}
	snap := snapshot{Format: snapshotFormat}
	for _, name := range slices.Sorted(maps.Keys(s.datasets)) {
		d := s.datasets[name]
		ds := datasetSnapshot{Name: name, Dim: d.dim, Expect: d.expect, Pooled: d.pooled, Model: d.model, CrossByQuery: d.crossByQuery}
		for _, st := range d.table.Settings() {
			ds.Settings = append(ds.Settings, st)
			ds.Accumulators = append(ds.Accumulators, d.table.Accumulator(st))
		}
		for _, lang := range d.complete() {
			l := d.langs[lang]
			ds.Langs = append(ds.Langs, langSnapshot{Lang: lang, Queries: entriesOf(l.queries, nil), Cands: entriesOf(l.cands, l.packed),
				QueryWant: l.queries.want, CandWant: l.cands.want})
		}
		snap.Datasets = append(snap.Datasets, ds)
	}
	if err := gob.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("score: save: %w", err)
	}
	return nil
}

// Load replaces the scorer's state with one Save wrote. Every language loaded counts as scored: records of
// it that arrive again are replays, and a new language is scored against it.
func (s *Scorer) Load(r io.Reader) error {
	var snap snapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("score: load: %w", err)
	}
	if snap.Format != snapshotFormat {
		return fmt.Errorf("score: load: a snapshot of format %d, want %d", snap.Format, snapshotFormat)
	}
	datasets := map[string]*datasetState{}
	for _, ds := range snap.Datasets {
		if len(ds.Settings) != len(ds.Accumulators) {
			return fmt.Errorf("score: load: dataset %s has %d settings and %d accumulators", ds.Name, len(ds.Settings), len(ds.Accumulators))
		}
		d := newDatasetState(ds.Name)
		datasets[ds.Name] = d
		d.dim, d.expect, d.pooled, d.model, d.done = ds.Dim, ds.Expect, ds.Pooled, ds.Model, true
		if ds.CrossByQuery != nil {
			d.crossByQuery = ds.CrossByQuery
		}
		for i, st := range ds.Settings {
			d.table.Put(st, ds.Accumulators[i])
		}
		for _, ls := range ds.Langs {
			l := d.lang(ls.Lang)
			l.scored = true
			if err := restore(&l.queries, ls.Lang, ls.Queries, ls.QueryWant, d.dim); err != nil {
				return err
			}
			if err := restore(&l.cands, ls.Lang, ls.Cands, ls.CandWant, d.dim); err != nil {
				return err
			}
		}
	}
	s.datasets = datasets // only a snapshot read whole replaces the state
	return nil
}

// entriesOf exports a side's entries; packed, if set, holds the vectors they dropped when laid out.
func entriesOf(sd side, packed *retrieval.Candidates) []entrySnapshot {
	out := make([]entrySnapshot, len(sd.entries))
	for i, e := range sd.entries {
		vector := e.vector
		if vector == nil && packed != nil {
			vector = packed.Vector(i)
		}
		v := make([]byte, 0, 4*len(vector))
		for _, x := range vector {
			v = binary.LittleEndian.AppendUint32(v, math.Float32bits(x))
		}
		out[i] = entrySnapshot{ID: e.id, QID: e.qid, QIDs: e.qids, Vector: v, Tokens: e.tokens}
	}
	return out
}

func restore(sd *side, lang string, es []entrySnapshot, want int64, dim int) error {
	sd.want = want
	for _, e := range es {
		if len(e.Vector)%4 != 0 || (len(e.Vector) > 0 && len(e.Vector) != 4*dim) {
			return fmt.Errorf("score: load: entry %s: %d vector bytes, want %d", e.ID, len(e.Vector), 4*dim)
		}
		var v []float32
		if len(e.Vector) > 0 {
			v = make([]float32, dim)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(e.Vector[4*i:]))
			}
		}
		sd.add(entry{id: e.ID, lang: lang, qid: e.QID, qids: e.QIDs, vector: v, tokens: e.Tokens})
	}
	return nil
}

// Languages returns the languages of dataset that are scored, sorted.
func (s *Scorer) Languages(dataset string) []string {
	if d := s.datasets[dataset]; d != nil {
		return d.complete()
	}
	return nil
}
