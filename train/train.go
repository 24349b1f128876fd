// Package train fits xling's own encoder (encoder/hashbag) on batches of QA pairs: InfoNCE over cosine
// similarities with in-batch negatives, optionally with a language discriminator trained through a
// gradient-reversal layer (adversarial domain adaptation), optimised with AdamW. Gradients are written by
// hand and checked against PyTorch in the tests.
//
// InfoNCE is averaged over the batch's queries (torch's cross_entropy; the method writes a sum, which
// differs only by the factor B the learning rate absorbs). The embedding table gets lazy AdamW: rows a
// batch does not touch keep their weights and moments; everything else follows torch.optim.AdamW.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"xling/batching"
	"xling/encoder/hashbag"
	"xling/tokenizer/ngram"
)

// Config sets up a training run.
//
// No field has a zero default: start from DefaultConfig and change what differs. NewTrainer (and so
// Run) calls Validate, which changes nothing.
type Config struct {
	Seed  uint64 // discriminator initialisation
	Steps int    // steps to take (fewer if the batches run out)

	LR          float64 // AdamW learning rate
	WeightDecay float64 // AdamW decoupled weight decay
	Beta1       float64
	Beta2       float64
	Eps         float64

	// FreezeProjection keeps the encoder's projection and bias as they are (for example the identity, which
	// makes the encoder an embedding bag alone); the embedding table and the discriminator still train.
	FreezeProjection bool

	Temperature float64 // InfoNCE divides cosine similarities by it
	Symmetric   bool    // add the passage->query direction and average the two

	// Languages are the discriminator's classes; texts in other languages are left out of its loss. With
	// none, there is no discriminator.
	Languages  []string
	DiscHidden int     // discriminator hidden width
	Lambda     float64 // gradient reversal: the encoder receives -Lambda * dCE/dembedding
	// LambdaSchedule is how Lambda is applied over the run: "" or ScheduleConstant, every step;
	// ScheduleDANN ramps it up as Lambda * (2/(1+exp(-10p)) - 1) at progress p = step/Steps (Ganin and
	// Lempitsky 2015), so the discriminator learns before its reversed gradient weighs on the encoder.
	LambdaSchedule string
	// DiscTexts, if set, gives the discriminator texts of its own for each step (Tokenized.Disc), for
	// example a language-balanced draw: the balanced design. Unset, the discriminator learns from each
	// batch's texts, which are of one language in a mono batch: the paper's design.
	DiscTexts func(step int) []Labelled `json:"-"`
	// DiscHeldOut are texts the discriminator never learns from; Run measures its accuracy on them every
	// LogEvery steps (Result.DiscCurve). Chance is 1/len(Languages) when they are balanced.
	DiscHeldOut []Labelled `json:"-"`

	QueryPrefix   string // prepended to every query before tokenising, e.g. "query: "
	PassagePrefix string // prepended to every passage, e.g. "passage: "

	CheckpointPath  string // ONNX file written every CheckpointEvery steps and at the end; none if empty
	CheckpointEvery int
	LogEvery        int // steps between progress logs
	Threads         int // goroutines in the hot loops
}

// DefaultConfig returns the settings used unless a caller changes them.
func DefaultConfig() Config {
	return Config{
		Seed: 1, Steps: 1000,
		LR: 1e-3, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Temperature: 0.05,
		DiscHidden:  128, Lambda: 0.1,
		QueryPrefix: "query: ", PassagePrefix: "passage: ",
		CheckpointEvery: 500, LogEvery: 50,
		Threads: runtime.GOMAXPROCS(0),
	}
}

// Validate reports, naming it, the first field of c that training cannot use.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error { return fmt.Errorf("train config: "+format, args...) }
	switch {
	case c.Steps < 0:
		return bad("Steps is %d, want >= 0", c.Steps)
	case !(c.LR >= 0):
		return bad("LR is %g, want >= 0", c.LR)
	case !(c.WeightDecay >= 0):
		return bad("WeightDecay is %g, want >= 0", c.WeightDecay)
	case !(c.Eps > 0):
		return bad("Eps is %g, want > 0", c.Eps)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return bad("Beta1 is %g, want it in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return bad("Beta2 is %g, want it in [0, 1)", c.Beta2)
	case !(c.Temperature > 0):
		return bad("Temperature is %g, want > 0", c.Temperature)
	case len(c.Languages) > 0 && c.DiscHidden < 1:
		return bad("DiscHidden is %d, want >= 1 with a discriminator (Languages set)", c.DiscHidden)
	case math.IsNaN(c.Lambda) || math.IsInf(c.Lambda, 0):
		return bad("Lambda is %g, want a finite number", c.Lambda)
	case c.LambdaSchedule != "" && c.LambdaSchedule != ScheduleConstant && c.LambdaSchedule != ScheduleDANN:
		return bad("LambdaSchedule is %q, want %q or %q", c.LambdaSchedule, ScheduleConstant, ScheduleDANN)
	case c.CheckpointPath != "" && c.CheckpointEvery < 1:
		return bad("CheckpointEvery is %d, want >= 1 with a CheckpointPath", c.CheckpointEvery)
	}
	return nil
}

// Lambda schedules (Config.LambdaSchedule).
const (
	ScheduleConstant = "constant"
	ScheduleDANN     = "dann"
)

// LambdaAt returns the gradient-reversal weight of the step after step steps have been taken.
func (c Config) LambdaAt(step int) float64 {
	if c.LambdaSchedule != ScheduleDANN || c.Steps <= 0 {
		return c.Lambda
	}
	p := min(float64(step)/float64(c.Steps), 1)
	return c.Lambda * (2/(1+math.Exp(-10*p)) - 1)
}

// Tokenized is a batch ready for the network: pair i is Queries[i] with Passages[i]. Ids of 0 are padding.
// Languages are indices into Config.Languages, -1 for a language not listed.
type Tokenized struct {
	Queries, Passages [][]int64
	QLang, PLang      []int
	// Disc, when not empty, are the discriminator's own texts for this step, with their languages: the
	// discriminator then learns from them alone, and the batch's pairs feed InfoNCE only (the balanced
	// design; without them the discriminator learns from the batch's own texts, the paper's design).
	Disc     [][]int64
	DiscLang []int
}

// Labelled is a text and its language (ISO 639-1), for the discriminator.
type Labelled struct{ Text, Lang string }

// ErrNonFinite reports a loss that is NaN or infinite; the step's update is not applied.
var ErrNonFinite = errors.New("loss is not finite")

// Trainer takes optimisation steps on a model. The model's embedding table is trained in place; its
// projection and bias are copied back by Sync. A Trainer is not safe for concurrent use.
type Trainer struct {
	net   *net[float32]
	model *hashbag.Model
}

// NewTrainer returns a trainer for m; Close releases its goroutines and its optimiser state (which lives
// outside the Go heap, so only Close frees it).
func NewTrainer(cfg Config, m *hashbag.Model) (*Trainer, error) {
	n, err := newNet[float32](cfg, m)
	if err != nil {
		return nil, err
	}
	return &Trainer{net: n, model: m}, nil
}

// Step runs forward, backward and one AdamW update on a batch. A non-finite loss returns ErrNonFinite
// and leaves the weights as they were.
func (t *Trainer) Step(b *Tokenized) (Stats, error) {
	if err := t.net.load(b); err != nil {
		return Stats{}, err
	}
	st := t.net.forward()
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
		return st, ErrNonFinite
	}
	t.net.backward()
	t.net.update()
	return st, nil
}

// Sync copies the trained projection and bias into the model.
func (t *Trainer) Sync() { t.net.writeModel(t.model) }

// Close stops the trainer's goroutines.
func (t *Trainer) Close() { t.net.close() }

// Tokenize turns a batch of pairs into ids with tok, prefixing each text with its role's prefix and
// mapping languages to their index in cfg.Languages. It reuses dst's slices and returns how many texts
// were truncated.
func Tokenize(cfg Config, tok *ngram.Tokenizer, b batching.Batch, dst *Tokenized) (truncated int) {
	n := len(b.Pairs)
	dst.Queries, dst.Passages = grow(dst.Queries, n), grow(dst.Passages, n)
	dst.QLang, dst.PLang = grow(dst.QLang, n), grow(dst.PLang, n)
	for i, p := range b.Pairs {
		var qt, pt bool
		dst.Queries[i], qt = tok.Append(dst.Queries[i][:0], cfg.QueryPrefix+p.Query)
		dst.Passages[i], pt = tok.Append(dst.Passages[i][:0], cfg.PassagePrefix+p.Passage)
		if qt {
			truncated++
		}
		if pt {
			truncated++
		}
		dst.QLang[i], dst.PLang[i] = slices.Index(cfg.Languages, p.QLang), slices.Index(cfg.Languages, p.PLang)
	}
	return truncated
}

// Result summarises a run.
type Result struct {
	Steps     int   // steps taken
	Last      Stats // the last step's statistics
	Truncated int   // texts cut at the tokenizer's MaxTokens
	// DiscCurve is the discriminator's accuracy on Config.DiscHeldOut over training (none without).
	DiscCurve []DiscPoint
}

// DiscPoint is the discriminator's held-out accuracy after a step.
type DiscPoint struct {
	Step     int     `json:"step"`
	Accuracy float64 `json:"accuracy"`
}

// tokenizeLabelled tokenizes texts (with no role prefix: the discriminator sees what the encoder embeds)
// and maps their languages to cfg.Languages, dropping texts of other languages.
func tokenizeLabelled(cfg Config, tok *ngram.Tokenizer, texts []Labelled, ids [][]int64, langs []int) ([][]int64, []int) {
	ids, langs = ids[:0], langs[:0]
	for _, x := range texts {
		l := slices.Index(cfg.Languages, x.Lang)
		if l < 0 {
			continue
		}
		v, _ := tok.Encode(x.Text)
		ids, langs = append(ids, v), append(langs, l)
	}
	return ids, langs
}

// Run trains m for cfg.Steps steps on the batches next returns (io.EOF from next ends the run early),
// logging progress to log (slog.Default() if nil) every cfg.LogEvery steps and writing checkpoints. On a
// non-finite loss it stops with an error wrapping ErrNonFinite that names the step and batch, leaving the
// last good checkpoint in place. On return m holds the trained weights.
func Run(ctx context.Context, cfg Config, m *hashbag.Model, next func(context.Context) (batching.Batch, error), log *slog.Logger) (Result, error) {
	if log == nil {
		log = slog.Default()
	}
	tok, err := ngram.New(m.Tokenizer)
	if err != nil {
		return Result{}, fmt.Errorf("train: tokenizer: %w", err)
	}
	tr, err := NewTrainer(cfg, m)
	if err != nil {
		return Result{}, err
	}
	defer tr.Close()
	defer tr.Sync()

	var (
		res     Result
		tb      Tokenized
		pairs   int
		lastLog = time.Now()
	)
	heldIDs, heldLangs := tokenizeLabelled(cfg, tok, cfg.DiscHeldOut, nil, nil)
	measure := func() {
		if len(heldIDs) > 0 && len(cfg.Languages) > 0 {
			res.DiscCurve = append(res.DiscCurve, DiscPoint{Step: res.Steps, Accuracy: tr.net.discAccuracy(heldIDs, heldLangs)})
		}
	}
	measure()
	for res.Steps < cfg.Steps {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		b, err := next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return res, fmt.Errorf("train: next batch after step %d: %w", res.Steps, err)
		}
		res.Truncated += Tokenize(cfg, tok, b, &tb)
		tb.Disc, tb.DiscLang = tb.Disc[:0], tb.DiscLang[:0]
		if cfg.DiscTexts != nil && len(cfg.Languages) > 0 {
			tb.Disc, tb.DiscLang = tokenizeLabelled(cfg, tok, cfg.DiscTexts(res.Steps), tb.Disc, tb.DiscLang)
		}
		tr.net.hp.lambda = cfg.LambdaAt(res.Steps)
		st, err := tr.Step(&tb)
		if err != nil {
			return res, fmt.Errorf("train: step %d (batch %d): %w", res.Steps+1, b.ID, err)
		}
		res.Steps++
		res.Last = st
		pairs += len(b.Pairs)
		if cfg.LogEvery > 0 && res.Steps%cfg.LogEvery == 0 {
			measure()
			now := time.Now()
			attrs := []any{"step", res.Steps, "batch", b.ID, "loss", st.Loss, "infonce", st.InfoNCE,
				"disc_loss", st.DiscLoss, "acc", st.Accuracy, "disc_acc", st.DiscAccuracy,
				"pairs_per_s", float64(pairs) / now.Sub(lastLog).Seconds()}
			if k := len(res.DiscCurve); k > 0 {
				attrs = append(attrs, "disc_heldout_acc", res.DiscCurve[k-1].Accuracy, "chance", 1/float64(len(cfg.Languages)))
			}
			log.Info("train", attrs...)
			pairs, lastLog = 0, now
		}
		if cfg.CheckpointPath != "" && res.Steps%cfg.CheckpointEvery == 0 {
			tr.Sync()
			if err := writeCheckpoint(cfg.CheckpointPath, m); err != nil {
				return res, err
			}
		}
	}
	if cfg.CheckpointPath != "" && (res.Steps == 0 || res.Steps%cfg.CheckpointEvery != 0) {
		tr.Sync()
		if err := writeCheckpoint(cfg.CheckpointPath, m); err != nil {
			return res, err
		}
	}
	return res, nil
}

// writeCheckpoint writes m as ONNX to a temporary file beside path and renames it into place, so path
// always holds a whole model.
func writeCheckpoint(path string, m *hashbag.Model) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if err := m.WriteONNX(f); err != nil {
		f.Close()
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return nil
}
