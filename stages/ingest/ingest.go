// Package ingest is the first stage: it reads dataset files into queries and candidates (with their
// relevance judgements) and produces them, one language per key, to the items topic, each language closed by
// stream-end markers that carry the counts.
//
// Every file is read and validated before anything is produced, so a malformed file fails the run with
// nothing half-sent. The check keeps what it read, up to Config.Hold bytes, and those files are produced
// from memory; the others are read once more, streamed (dataset.File.Scan), their queries and candidates
// batched apart, so the stage then holds a batch of records of each kind, never a file.
package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"xling/dataset"
	"xling/dataset/beir"
	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Config says what to ingest.
//
// Zero fields take the defaults noted on them inside Run, which first calls Validate; Validate changes
// nothing.
type Config struct {
	DataDir string
	// Datasets names what to read: "xquad-r", "mlqa-r", "xquad" (from DataDir), or "beir:DIR:LANG[:SPLIT]"
	// for a BEIR-layout set (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv; MIRACL after beir.FromMIRACL) whose
	// texts are in LANG, named after DIR's last element.
	Datasets  []string
	Langs     map[string][]string // per dataset; missing or nil: every language it has
	Read      dataset.Options
	BatchSize int // records per message; 0 means 256
	// Hold is how many bytes of records the check of the files may keep, so that a file it kept is not
	// read again to be produced; 0 means 64 MiB (XQuAD-R's 11 languages take about 30), a negative value
	// keeps none. The rest are read again.
	Hold int64
}

const defaultHold = 64 << 20

// Validate reports, naming it, the first field of c that Run cannot use.
func (c Config) Validate() error {
	if c.BatchSize < 0 {
		return fmt.Errorf("ingest config: BatchSize is %d, want >= 0 (0 means 256)", c.BatchSize)
	}
	for i, d := range c.Datasets {
		if d == "" {
			return fmt.Errorf("ingest config: Datasets[%d] is empty", i)
		}
	}
	return nil
}

// FileSum records one input file for the run manifest.
type FileSum struct {
	Dataset, Lang, Path, SHA256 string
	Items                       int
	Skipped                     int
}

// input is one language of one dataset, checked and ready to produce.
type input struct {
	sum   FileSum
	langs []string // every language of its dataset in the run
	// scan reads it again, handing its items to emit in order and the records it skips (partial loading)
	// to skip.
	scan func(emit func(dataset.Item) error, skip func(error) error) error
}

// Run validates every input, then produces its records as the source stage src. It returns the files read.
func Run(ctx context.Context, src *pipeline.Source, topics pipeline.Topics, cfg Config, log *slog.Logger) ([]FileSum, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 256
	}
	if cfg.Hold == 0 {
		cfg.Hold = defaultHold
	}
	hold := newBudget(cfg.Hold)
	var ins []input
	for _, name := range cfg.Datasets {
		var more []input
		var err error
		if spec, ok := strings.CutPrefix(name, "beir:"); ok {
			more, err = beirInput(spec)
		} else {
			more, err = fileInputs(cfg, name, hold, log)
		}
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		ins = append(ins, more...)
	}
	sums := make([]FileSum, len(ins))
	for i, in := range ins {
		if err := produce(ctx, src, topics.Items(), cfg.BatchSize, in); err != nil {
			return nil, err
		}
		log.Info("ingested", "dataset", in.sum.Dataset, "lang", in.sum.Lang, "items", in.sum.Items, "skipped", in.sum.Skipped)
		sums[i] = in.sum
	}
	if err := src.EndRun(ctx, topics.Items().Name); err != nil {
		return nil, err
	}
	return sums, nil
}

// budget is the bytes of records the check may still keep, shared by the files it reads at once.
type budget struct{ left atomic.Int64 }

func newBudget(n int64) *budget {
	b := &budget{}
	b.left.Store(n)
	return b
}

// take reserves n bytes, or reports that they are not there.
func (b *budget) take(n int64) bool {
	if b.left.Add(-n) >= 0 {
		return true
	}
	b.left.Add(n)
	return false
}

func (b *budget) give(n int64) { b.left.Add(n) }

// fileInputs reads every language file of a dataset under DataDir once, to check it, keeping the records
// of those files that fit in what is left of hold. The files are read side by side, one per CPU: nothing
// downstream has work until the last is checked, so the check is the run's first latency.
func fileInputs(cfg Config, name string, hold *budget, log *slog.Logger) ([]input, error) {
	files, err := dataset.Files(cfg.DataDir, name, cfg.Langs[name], log)
	if err != nil {
		return nil, err
	}
	var langs []string
	for _, f := range files {
		langs = append(langs, f.Lang)
	}
	ins := make([]input, len(files))
	errs := make([]error, len(files))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, f := range files {
		g.Go(func() error {
			ins[i], errs[i] = checkFile(cfg, name, f, langs, hold)
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first file's in file order, whichever failed first
		}
	}
	return ins, nil
}

// checkFile reads f once, keeping its records if hold has room for them all.
func checkFile(cfg Config, name string, f dataset.File, langs []string, hold *budget) (input, error) {
	sum := FileSum{Dataset: name, Lang: f.Lang, Path: f.Path}
	var kept []dataset.Item
	var skipped []error
	var used int64
	keep := true
	digest, err := f.Scan(cfg.Read, func(it dataset.Item) error {
		sum.Items++
		if keep {
			if n := size(it); hold.take(n) {
				used += n
				kept = append(kept, it)
			} else {
				// The file is read again: let go of what was kept of it now.
				hold.give(used)
				keep, kept, skipped, used = false, nil, nil, 0
			}
		}
		return nil
	}, func(e *dataset.RecordError) error {
		sum.Skipped++
		if keep {
			skipped = append(skipped, e)
		}
		return nil
	})
	if err != nil {
		hold.give(used)
		return input{}, err
	}
	sum.SHA256 = digest
	if keep {
		return input{sum: sum, langs: langs, scan: replay(kept, skipped)}, nil
	}
	return input{sum: sum, langs: langs, scan: func(emit func(dataset.Item) error, skip func(error) error) error {
		digest, err := f.Scan(cfg.Read, emit, func(e *dataset.RecordError) error { return skip(e) })
		if err != nil {
			return err
		}
		if digest != sum.SHA256 {
			return fmt.Errorf("%s: file changed while the run was reading it", f.Path)
		}
		return nil
	}}, nil
}

// beirInput opens a BEIR-layout set ("DIR:LANG[:SPLIT]"), which beir.Open checks whole before anything
// is produced; its corpus is streamed, never held.
func beirInput(spec string) ([]input, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return nil, fmt.Errorf("dataset beir:%s: want beir:DIR:LANG or beir:DIR:LANG:SPLIT", spec)
	}
	opts := beir.Options{Dataset: "beir-" + filepath.Base(parts[0]), Lang: parts[1]}
	if len(parts) == 3 {
		opts.Split = parts[2]
	}
	r, err := beir.Open(parts[0], opts)
	if err != nil {
		return nil, err
	}
	queries := r.Queries()
	sum := FileSum{Dataset: opts.Dataset, Lang: opts.Lang, Path: filepath.Join(parts[0], "corpus.jsonl"), SHA256: r.CorpusSHA256(),
		Items: len(queries) + r.Documents()}
	return []input{{sum: sum, langs: []string{opts.Lang}, scan: func(emit func(dataset.Item) error, _ func(error) error) error {
		for _, q := range queries {
			if err := emit(q); err != nil {
				return err
			}
		}
		for it, err := range r.Candidates() {
			if err != nil {
				return err
			}
			if err := emit(it); err != nil {
				return err
			}
		}
		return nil
	}}}, nil
}

// replay is the scan of a file whose records the check kept: they are handed on once, then let go.
func replay(kept []dataset.Item, skipped []error) func(emit func(dataset.Item) error, skip func(error) error) error {
	return func(emit func(dataset.Item) error, skip func(error) error) error {
		items, errs := kept, skipped
		kept, skipped = nil, nil
		for _, e := range errs {
			if err := skip(e); err != nil {
				return err
			}
		}
		for _, it := range items {
			if err := emit(it); err != nil {
				return err
			}
		}
		return nil
	}
}

// size is about how many bytes a record holds (its strings, as if none shared memory, and the record).
func size(it dataset.Item) int64 {
	n := int(unsafe.Sizeof(it)) + len(it.Dataset) + len(it.Lang) + len(it.ID) + len(it.QID) + len(it.Text) + len(it.Context)
	for _, q := range it.QIDs {
		n += int(unsafe.Sizeof(q)) + len(q)
	}
	return int64(n)
}

// produce sends one input: its queries and candidates, in batches of one kind, then each kind's stream-end
// marker, and the records it skipped, as they come, to the dead-letter topic. It sends a batch at a time.
func produce(ctx context.Context, src *pipeline.Source, items pipeline.Topic[schemas.Record], batchSize int, in input) error {
	path := in.sum.Path
	key := in.sum.Dataset + "/" + in.sum.Lang
	var skipped []error
	reject := func() error {
		out := src.Output(path)
		for i, s := range skipped {
			// Partial loading: the record is not lost, it is on the dead-letter topic with its reason.
			out.Reject(i, map[string]string{"file": path}, s)
		}
		n := int64(len(skipped))
		skipped = skipped[:0]
		return src.Send(ctx, n, out)
	}
	// One read of the file: its queries and candidates go out in batches of their own kind, each kind
	// closed by its stream-end marker once the file has been read.
	kinds := domain.Kinds()
	batches := make([][]schemas.Record, len(kinds))
	flush := func(k int) error {
		out := src.Output(path)
		if err := pipeline.Emit(out, items, key, batches[k]...); err != nil {
			return err
		}
		n := int64(len(batches[k]))
		batches[k] = batches[k][:0]
		return src.Send(ctx, n, out)
	}
	err := in.scan(func(it dataset.Item) error {
		k := slices.Index(kinds, it.Kind)
		if k < 0 {
			return fmt.Errorf("%s: item %s has kind %q", path, it.ID, it.Kind)
		}
		if batches[k] = append(batches[k], it); len(batches[k]) == batchSize {
			return flush(k)
		}
		return nil
	}, func(e error) error {
		if skipped = append(skipped, e); len(skipped) == batchSize {
			return reject()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	for k := range kinds {
		if err := flush(k); err != nil {
			return err
		}
	}
	if err := reject(); err != nil {
		return err
	}
	out := src.Output(path)
	for _, kind := range kinds {
		out.EndStream(items.Name, key, schemas.Marker{Kind: schemas.StreamEnd, Dataset: in.sum.Dataset, Lang: in.sum.Lang, ItemKind: kind, Langs: in.langs})
	}
	return src.Send(ctx, 0, out)
}
