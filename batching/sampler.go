package batching

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Strategy says how batches are drawn: mono with probability alpha, cross otherwise.
type Strategy struct {
	name  string
	alpha float64
}

// StrategyMono draws X-X-mono batches only.
func StrategyMono() Strategy { return Strategy{name: "mono", alpha: 1} }

// StrategyCross draws X-Y batches only.
func StrategyCross() Strategy { return Strategy{name: "cross", alpha: 0} }

// StrategyHybrid draws a mono batch with probability alpha and a cross batch otherwise; the paper's best
// alpha is 0.5.
func StrategyHybrid(alpha float64) (Strategy, error) {
	if !(alpha >= 0 && alpha <= 1) {
		return Strategy{}, fmt.Errorf("hybrid alpha %v: want a probability in [0, 1]", alpha)
	}
	return Strategy{name: "hybrid", alpha: alpha}, nil
}

// ParseStrategy reads "mono", "cross", "hybrid" (alpha 0.5) or "hybrid:ALPHA".
func ParseStrategy(s string) (Strategy, error) {
	switch name, arg, hasArg := strings.Cut(s, ":"); {
	case s == "mono":
		return StrategyMono(), nil
	case s == "cross":
		return StrategyCross(), nil
	case name == "hybrid" && !hasArg:
		return StrategyHybrid(0.5)
	case name == "hybrid":
		alpha, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return Strategy{}, fmt.Errorf("parse strategy %q: %w", s, err)
		}
		return StrategyHybrid(alpha)
	}
	return Strategy{}, fmt.Errorf("parse strategy %q: want mono, cross, hybrid or hybrid:ALPHA", s)
}

// String is the form ParseStrategy reads.
func (s Strategy) String() string {
	if s.name == "hybrid" {
		return "hybrid:" + strconv.FormatFloat(s.alpha, 'g', -1, 64)
	}
	return s.name
}

// Config sets up a sampling run.
//
// Zero Epochs and MaxBatches take the defaults noted on them inside Sample, which first calls Validate;
// Validate changes nothing.
type Config struct {
	Strategy  Strategy
	BatchSize int // pairs per batch (the paper: 100)
	// Buffer is how many groups are held for shuffling, at least BatchSize; mono batches need BatchSize
	// groups of one language in it, so make it several times BatchSize.
	Buffer     int
	Seed       uint64
	Epochs     int // passes over every source; 0 means 1
	MaxBatches int // stop after this many batches; 0 means when the epochs are done
}

// Stats counts what a run emitted.
type Stats struct {
	Batches, Mono, Cross int
	// Short counts batches of fewer than BatchSize pairs: the last ones of an epoch, or mono batches drawn
	// when no language had BatchSize groups in the buffer.
	Short int
	Pairs int
}

// Sample draws batches from the sources and passes them to emit, stopping at the first error emit returns.
//
// Groups from all sources are interleaved into one stream, each next group taken from a source with
// probability proportional to the groups it has left this epoch, so every stretch of the stream mixes the
// sources in proportion to their sizes. The stream fills a buffer of Config.Buffer groups; a batch takes
// groups out of the buffer, at random, and each group gives one pair, so a batch never holds two pairs of
// one group.
//
//   - mono: the language is drawn uniformly among the languages that at least BatchSize buffered groups have
//     (if none has, among those most groups have: a short batch); then BatchSize of the groups that have it,
//     uniformly; every pair is that language's (query, passage).
//   - cross: BatchSize buffered groups, uniformly; for each, an ordered pair (a, b), a != b, uniformly among
//     the group's languages; the pair is (query in a, passage in b).
//   - hybrid: each batch is mono with probability alpha, cross otherwise.
//
// Same examples for every strategy: the interleaved stream depends on the seed alone (its random choices
// use their own generator), the buffer drains at the end of each epoch (short batches), and every group has
// two languages or more, so it can always give a cross pair and a mono one. Hence with one seed every
// strategy consumes each group exactly once per epoch and the k-th group to enter the buffer is the same;
// strategies differ only in which buffered groups share a batch and in the languages drawn.
func Sample(ctx context.Context, cfg Config, sources []Source, emit func(Batch) error) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, err
	}
	if len(sources) == 0 {
		return Stats{}, errors.New("sample: no sources")
	}
	sizes := make([]int, len(sources))
	for i, src := range sources {
		sizes[i] = src.Size
		if sizes[i] > 0 {
			continue
		}
		for _, err := range src.Groups {
			if err != nil {
				return Stats{}, fmt.Errorf("count source %s: %w", src.Name, err)
			}
			sizes[i]++
		}
	}
	s := &sampler{
		cfg:    cfg,
		mix:    rand.New(rand.NewPCG(cfg.Seed, 1)),
		draw:   rand.New(rand.NewPCG(cfg.Seed, 2)),
		langID: map[string]int{},
		inBuf:  map[groupKey]bool{},
		emit:   emit,
	}
	epochs := max(cfg.Epochs, 1)
	for range epochs {
		done, err := s.epoch(ctx, sources, sizes)
		if err != nil || done {
			return s.st, err
		}
	}
	return s.st, nil
}

// Validate reports, naming it, the first field of c that Sample cannot use.
func (c Config) Validate() error {
	switch {
	case c.Strategy.name == "":
		return errors.New("sample config: Strategy is not set: want mono, cross or hybrid(alpha)")
	case c.BatchSize < 1:
		return fmt.Errorf("sample config: BatchSize is %d, want >= 1", c.BatchSize)
	case c.Buffer < c.BatchSize:
		return fmt.Errorf("sample config: Buffer is %d, smaller than BatchSize %d", c.Buffer, c.BatchSize)
	case c.Epochs < 0:
		return fmt.Errorf("sample config: Epochs is %d, want >= 0 (0 means 1)", c.Epochs)
	case c.MaxBatches < 0:
		return fmt.Errorf("sample config: MaxBatches is %d, want >= 0 (0 means no limit)", c.MaxBatches)
	}
	return nil
}

type groupKey struct{ source, id string }

// maxLangs bounds the languages of a run, so that a group's languages fit a bit set.
const maxLangs = 64

type sampler struct {
	cfg       Config
	mix, draw *rand.Rand
	buf       []entry
	langs     []string       // by id, in order of first appearance (which the seed fixes)
	langID    map[string]int // language -> id
	counts    []int          // language id -> buffered groups that have it
	inBuf     map[groupKey]bool
	scratch   []int
	st        Stats
	emit      func(Batch) error
}

// entry is a buffered group and the set of its language ids, which keeps the mono scan cheap.
type entry struct {
	g     Group
	langs uint64
}

// epoch runs one pass over every source; done says the run is over (MaxBatches reached).
func (s *sampler) epoch(ctx context.Context, sources []Source, sizes []int) (done bool, err error) {
	type stream struct {
		name string
		next func() (Group, error, bool)
		left int
	}
	streams := make([]*stream, len(sources))
	for i, src := range sources {
		next, stop := iter.Pull2(src.Groups)
		defer stop()
		streams[i] = &stream{name: src.Name, next: next, left: sizes[i]}
	}
	for {
		if err := ctx.Err(); err != nil {
			return true, fmt.Errorf("sample batch %d: %w", s.st.Batches, err)
		}
		// Fill the buffer: pick a live source with probability proportional to its groups left.
		for len(s.buf) < s.cfg.Buffer && len(streams) > 0 {
			total := 0
			for _, st := range streams {
				total += max(st.left, 0)
			}
			pick := 0
			if total > 0 {
				r := s.mix.IntN(total)
				for pick = 0; r >= max(streams[pick].left, 0); pick++ {
					r -= max(streams[pick].left, 0)
				}
			}
			g, err, ok := streams[pick].next()
			if !ok {
				streams = slices.Delete(streams, pick, pick+1)
				continue
			}
			if err != nil {
				return true, fmt.Errorf("read source %s: %w", streams[pick].name, err)
			}
			streams[pick].left--
			if err := s.add(g); err != nil {
				return true, err
			}
		}
		if len(s.buf) == 0 {
			return false, nil
		}
		b := Batch{ID: uint64(s.st.Batches)}
		if s.draw.Float64() < s.cfg.Strategy.alpha {
			b.Kind, b.Pairs = Mono, s.mono()
			s.st.Mono++
		} else {
			b.Kind, b.Pairs = Cross, s.cross()
			s.st.Cross++
		}
		s.st.Batches++
		s.st.Pairs += len(b.Pairs)
		if len(b.Pairs) < s.cfg.BatchSize {
			s.st.Short++
		}
		if err := s.emit(b); err != nil {
			return true, err
		}
		if s.cfg.MaxBatches > 0 && s.st.Batches >= s.cfg.MaxBatches {
			return true, nil
		}
	}
}

// add checks a group and buffers it.
func (s *sampler) add(g Group) error {
	k := groupKey{g.Source, g.ID}
	if len(g.Texts) < 2 {
		return fmt.Errorf("source %s group %s: %d language(s), want at least 2", g.Source, g.ID, len(g.Texts))
	}
	if s.inBuf[k] {
		return fmt.Errorf("source %s group %s: twice in the buffer (repeated in its stream)", g.Source, g.ID)
	}
	var set uint64
	for _, t := range g.Texts {
		if t.Lang == "" {
			return fmt.Errorf("source %s group %s: text without language", g.Source, g.ID)
		}
		id, ok := s.langID[t.Lang]
		if !ok {
			if len(s.langs) == maxLangs {
				return fmt.Errorf("source %s group %s: more than %d languages in the run", g.Source, g.ID, maxLangs)
			}
			id = len(s.langs)
			s.langID[t.Lang] = id
			s.langs = append(s.langs, t.Lang)
			s.counts = append(s.counts, 0)
		}
		if set&(1<<id) != 0 {
			return fmt.Errorf("source %s group %s: repeated language %q", g.Source, g.ID, t.Lang)
		}
		set |= 1 << id
	}
	for _, t := range g.Texts {
		s.counts[s.langID[t.Lang]]++
	}
	s.inBuf[k] = true
	s.buf = append(s.buf, entry{g: g, langs: set})
	return nil
}

// take draws min(n, len(idx)) of the buffer positions idx uniformly, removes those groups from the buffer
// and returns them in draw order.
func (s *sampler) take(idx []int, n int) []Group {
	n = min(n, len(idx))
	for i := range n {
		j := i + s.draw.IntN(len(idx)-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	chosen := idx[:n]
	gs := make([]Group, n)
	for i, p := range chosen {
		gs[i] = s.buf[p].g
	}
	// Remove from the highest position down, so that the last group, moved into a hole, was not chosen.
	slices.SortFunc(chosen, func(a, b int) int { return b - a })
	for _, p := range chosen {
		e := s.buf[p]
		for _, t := range e.g.Texts {
			s.counts[s.langID[t.Lang]]--
		}
		delete(s.inBuf, groupKey{e.g.Source, e.g.ID})
		last := len(s.buf) - 1
		s.buf[p] = s.buf[last]
		s.buf[last] = entry{}
		s.buf = s.buf[:last]
	}
	return gs
}

func (s *sampler) mono() []Pair {
	var full, most []int
	best := 0
	for id, c := range s.counts {
		switch {
		case c >= s.cfg.BatchSize:
			full = append(full, id)
		case c > best:
			best, most = c, []int{id}
		case c == best && c > 0:
			most = append(most, id)
		}
	}
	if len(full) == 0 {
		full = most
	}
	id := full[s.draw.IntN(len(full))]
	lang := s.langs[id]
	idx := s.scratch[:0]
	for i, e := range s.buf {
		if e.langs&(1<<id) != 0 {
			idx = append(idx, i)
		}
	}
	s.scratch = idx
	gs := s.take(idx, s.cfg.BatchSize)
	pairs := make([]Pair, len(gs))
	for i, g := range gs {
		t := g.Texts[slices.IndexFunc(g.Texts, func(t Text) bool { return t.Lang == lang })]
		pairs[i] = Pair{Source: g.Source, Group: g.ID, QLang: lang, PLang: lang, Query: t.Query, Passage: t.Passage}
	}
	return pairs
}

func (s *sampler) cross() []Pair {
	idx := s.scratch[:0]
	for i := range s.buf {
		idx = append(idx, i)
	}
	s.scratch = idx
	gs := s.take(idx, s.cfg.BatchSize)
	pairs := make([]Pair, len(gs))
	for i, g := range gs {
		a := s.draw.IntN(len(g.Texts))
		b := s.draw.IntN(len(g.Texts) - 1)
		if b >= a {
			b++
		}
		q, p := g.Texts[a], g.Texts[b]
		pairs[i] = Pair{Source: g.Source, Group: g.ID, QLang: q.Lang, PLang: p.Lang, Query: q.Query, Passage: p.Passage}
	}
	return pairs
}
