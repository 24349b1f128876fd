// Package pool generates synthetic LAReQA-shaped embeddings of any size, for scale runs of the scorer:
// parallel questions with a query in every language, each answered by one candidate per language, in a
// pool of candidates that are mostly distractors. Vectors are unit length and not trivially separable:
// a question's query and answers share its direction, questions share topics with each other and with
// distractors (hard negatives), and every vector leans towards its language (so the multilingual pool
// favours the query's own language, as real encoders do). The same Config gives the same records.
package pool

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Config sizes a pool.
type Config struct {
	Dataset   string
	Model     string
	Langs     []string
	Questions int // parallel questions: a query and an answer in each language
	// Candidates per language, answers included (at least Questions).
	Candidates int
	Dim        int
	Seed       uint64
	// Noise is the length of the random part of every vector against its signal's 1 at dimension 64
	// (0 means 1): the larger, the harder the retrieval. At other dimensions it is set so that the spread
	// of a score is what it is at 64 (random parts agree less the more dimensions they spread over), so
	// a pool is about as hard at any dimension.
	Noise float64
	// Topics the questions and distractors share (0 means Questions/4, at least 1).
	Topics int
}

// Check reports a Config that cannot be generated.
func (c Config) Check() error {
	switch {
	case c.Dataset == "" || len(c.Langs) == 0:
		return fmt.Errorf("pool: want a dataset name and at least one language")
	case c.Questions < 1 || c.Candidates < c.Questions:
		return fmt.Errorf("pool: %d questions and %d candidates per language: want questions >= 1 and candidates >= questions", c.Questions, c.Candidates)
	case c.Dim < 2:
		return fmt.Errorf("pool: dimension %d, want at least 2", c.Dim)
	}
	return nil
}

// generator holds the directions every record is drawn around.
type generator struct {
	cfg       Config
	noise     float32 // the random part's length at cfg.Dim
	topics    [][]float32
	questions [][]float32 // each question's direction: its topic plus its own
	langs     map[string][]float32
}

// Language lean, topic share and translation drift of a direction: fixed, so Noise alone tunes how hard
// the pool is. The drift is a question's own turn in each language, which its query and answer there
// share: a query finds its answer in its own language more easily than in another.
const (
	langWeight  = 0.35
	topicWeight = 0.6
	driftWeight = 0.5
)

func newGenerator(cfg Config) *generator {
	if cfg.Noise == 0 {
		cfg.Noise = 1
	}
	if cfg.Topics == 0 {
		cfg.Topics = max(1, cfg.Questions/4)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0))
	// A score's spread from the random parts goes as (noise⁴ + 2.25 noise²) / dim (noise against noise,
	// and against the signal and the lean): solved for the noise that keeps it at dimension 64's.
	k := (math.Pow(cfg.Noise, 4) + 2.25*cfg.Noise*cfg.Noise) * float64(cfg.Dim) / 64
	g := &generator{cfg: cfg, langs: map[string][]float32{}, noise: float32(math.Sqrt((-2.25 + math.Sqrt(2.25*2.25+4*k)) / 2))}
	for range cfg.Topics {
		g.topics = append(g.topics, unit(gaussian(r, cfg.Dim)))
	}
	for q := range cfg.Questions {
		g.questions = append(g.questions, unit(mix(g.topics[q%cfg.Topics], topicWeight, unit(gaussian(r, cfg.Dim)), math.Sqrt(1-topicWeight*topicWeight))))
	}
	for _, l := range cfg.Langs {
		g.langs[l] = unit(gaussian(r, cfg.Dim))
	}
	return g
}

// vector draws a unit vector around signal, leaning to lang's direction.
func (g *generator) vector(r *rand.Rand, signal []float32, lang string) []float32 {
	v := mix(signal, 1, g.langs[lang], langWeight)
	noise := unit(gaussian(r, g.cfg.Dim))
	for i := range v {
		v[i] += g.noise * noise[i]
	}
	return unit(v)
}

// drifted is question q's direction in lang: the same for its query and its answer there.
func (g *generator) drifted(q int, lang string) []float32 {
	h := fnv.New64a()
	fmt.Fprintf(h, "drift/%s/%d", lang, q)
	return unit(mix(g.questions[q], 1, unit(gaussian(rand.New(rand.NewPCG(g.cfg.Seed, h.Sum64())), g.cfg.Dim)), driftWeight))
}

// Records calls yield with every record of lang of kind (queries: one per question; candidates: the
// answers among the distractors), in id order, drawn from a stream of their own: a language's records
// are the same whichever others are generated.
func Records(cfg Config, lang string, kind domain.Kind, yield func(schemas.Record) error) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	return newGenerator(cfg).records(lang, kind, yield)
}

func (g *generator) records(lang string, kind domain.Kind, yield func(schemas.Record) error) error {
	cfg := g.cfg
	h := fnv.New64a()
	h.Write([]byte(lang + "/" + string(kind)))
	r := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
	if kind == domain.Query {
		for q := range cfg.Questions {
			rec := schemas.Record{Dataset: cfg.Dataset, Lang: lang, Kind: domain.Query, ID: fmt.Sprintf("%s/q/%07d", lang, q), QID: fmt.Sprintf("q%07d", q),
				Model: cfg.Model, Vector: g.vector(r, g.drifted(q, lang), lang)}
			if err := yield(rec); err != nil {
				return err
			}
		}
		return nil
	}
	// Answers sit at random places among the distractors, so ids say nothing of relevance.
	answerOf := make([]int32, cfg.Candidates)
	for i := range answerOf {
		answerOf[i] = -1
	}
	for q, i := range r.Perm(cfg.Candidates)[:cfg.Questions] {
		answerOf[i] = int32(q)
	}
	for i, q := range answerOf {
		rec := schemas.Record{Dataset: cfg.Dataset, Lang: lang, Kind: domain.Candidate, ID: fmt.Sprintf("%s/c/%08d", lang, i), Model: cfg.Model}
		if q >= 0 {
			rec.QIDs = []string{fmt.Sprintf("q%07d", q)}
			rec.Vector = g.vector(r, g.drifted(int(q), lang), lang)
		} else {
			// A distractor shares a topic with some questions: near them, but no answer.
			own := mix(g.topics[r.IntN(len(g.topics))], topicWeight, unit(gaussian(r, cfg.Dim)), math.Sqrt(1-topicWeight*topicWeight))
			rec.Vector = g.vector(r, unit(own), lang)
		}
		if err := yield(rec); err != nil {
			return err
		}
	}
	return nil
}

// Produce writes the pool to w's embeddings topic as the encode stage would: each language's queries,
// then its candidates, on the dataset's key, each stream closed by its stream-end marker, then the run's
// end. Records go in messages of batch records.
func Produce(ctx context.Context, w pipeline.Worker, cfg Config, batch int) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	g := newGenerator(cfg)
	src := pipeline.NewSource("synthpool", w)
	topic := w.Topics.Embeddings()
	for _, lang := range cfg.Langs {
		for _, kind := range []domain.Kind{domain.Query, domain.Candidate} {
			var rows []schemas.Record
			send := func(end bool) error {
				out := src.Output("synthpool")
				if err := pipeline.Emit(out, topic, cfg.Dataset, rows...); err != nil {
					return fmt.Errorf("pool: %w", err)
				}
				if end {
					out.EndStream(topic.Name, cfg.Dataset, schemas.Marker{Kind: schemas.StreamEnd, Dataset: cfg.Dataset, Lang: lang, ItemKind: kind, Langs: cfg.Langs})
				}
				if err := src.Send(ctx, int64(len(rows)), out); err != nil {
					return fmt.Errorf("pool: %w", err)
				}
				rows = rows[:0]
				return nil
			}
			err := g.records(lang, kind, func(r schemas.Record) error {
				rows = append(rows, r)
				if len(rows) == batch {
					return send(false)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := send(true); err != nil {
				return err
			}
		}
	}
	if err := src.EndRun(ctx, topic.Name); err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	return nil
}

// gaussian draws dim standard normal components (a random direction, once made unit).
func gaussian(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// mix returns a*x + b*y.
func mix(x []float32, a float64, y []float32, b float64) []float32 {
	out := make([]float32, len(x))
	for i := range out {
		out[i] = float32(a)*x[i] + float32(b)*y[i]
	}
	return out
}

// unit scales v to length 1 in place.
func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= n
	}
	return v
}
