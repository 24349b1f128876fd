// Package ingest is the first stage: it reads dataset files into queries and candidates (with their
// relevance judgements) and produces them, one language per key, to the items topic, each language closed by
// stream-end markers that carry the counts.
//
// Every file is read and validated before anything is produced, so a malformed file fails the run with
// nothing half-sent; the files are then read again one at a time, so the stage never holds a dataset.
package ingest

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"path/filepath"
	"strings"

	"xling/dataset"
	"xling/dataset/beir"
	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Config says what to ingest.
type Config struct {
	DataDir string
	// Datasets names what to read: "xquad-r", "mlqa-r", "xquad" (from DataDir), or "beir:DIR:LANG[:SPLIT]"
	// for a BEIR-layout set (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv; MIRACL after beir.FromMIRACL) whose
	// texts are in LANG, named after DIR's last element.
	Datasets  []string
	Langs     map[string][]string // per dataset; missing or nil: every language it has
	Read      dataset.Options
	BatchSize int // records per message; 0 means 256
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
	// items reads it again: the records it skipped (partial loading), and its items of each kind in order.
	items func() (skipped []error, of func(domain.Kind) iter.Seq2[dataset.Item, error], err error)
}

// Run validates every input, then produces its records as the source stage src. It returns the files read.
func Run(ctx context.Context, src *pipeline.Source, topics pipeline.Topics, cfg Config, log *slog.Logger) ([]FileSum, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	var ins []input
	for _, name := range cfg.Datasets {
		var more []input
		var err error
		if spec, ok := strings.CutPrefix(name, "beir:"); ok {
			more, err = beirInput(spec)
		} else {
			more, err = fileInputs(cfg, name, log)
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

// fileInputs reads every language file of a dataset under DataDir once, to check it.
func fileInputs(cfg Config, name string, log *slog.Logger) ([]input, error) {
	files, err := dataset.Files(cfg.DataDir, name, cfg.Langs[name], log)
	if err != nil {
		return nil, err
	}
	var langs []string
	for _, f := range files {
		langs = append(langs, f.Lang)
	}
	ins := make([]input, len(files))
	for i, f := range files {
		res, err := f.Read(cfg.Read)
		if err != nil {
			return nil, err
		}
		sum := FileSum{Dataset: name, Lang: f.Lang, Path: f.Path, SHA256: res.SHA256, Items: len(res.Items), Skipped: len(res.Skipped)}
		ins[i] = input{sum: sum, langs: langs, items: func() ([]error, func(domain.Kind) iter.Seq2[dataset.Item, error], error) {
			res, err := f.Read(cfg.Read)
			if err != nil {
				return nil, nil, err
			}
			if res.SHA256 != sum.SHA256 {
				return nil, nil, fmt.Errorf("%s: file changed while the run was reading it", f.Path)
			}
			return res.Skipped, func(kind domain.Kind) iter.Seq2[dataset.Item, error] {
				return func(yield func(dataset.Item, error) bool) {
					for _, it := range res.Items {
						if it.Kind == kind && !yield(it, nil) {
							return
						}
					}
				}
			}, nil
		}}
	}
	return ins, nil
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
	return []input{{sum: sum, langs: []string{opts.Lang}, items: func() ([]error, func(domain.Kind) iter.Seq2[dataset.Item, error], error) {
		return nil, func(kind domain.Kind) iter.Seq2[dataset.Item, error] {
			if kind == domain.Candidate {
				return r.Candidates()
			}
			return func(yield func(dataset.Item, error) bool) {
				for _, q := range queries {
					if !yield(q, nil) {
						return
					}
				}
			}
		}, nil
	}}}, nil
}

// produce sends one input: its skipped records to the dead-letter topic, then its queries and its
// candidates, each kind closed by a stream-end marker.
func produce(ctx context.Context, src *pipeline.Source, items pipeline.Topic[schemas.Record], batchSize int, in input) error {
	skipped, of, err := in.items()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	path := in.sum.Path
	key := in.sum.Dataset + "/" + in.sum.Lang
	out := src.Output(path)
	for i, s := range skipped {
		// Partial loading: the record is not lost, it is on the dead-letter topic with its reason.
		out.Reject(i, map[string]string{"file": path}, s)
	}
	if err := src.Send(ctx, int64(len(skipped)), out); err != nil {
		return err
	}
	// Queries first, then candidates: a language's stream of each kind is contiguous.
	for _, kind := range domain.Kinds() {
		var batch []schemas.Record
		flush := func() error {
			out := src.Output(path)
			if err := pipeline.Emit(out, items, key, batch...); err != nil {
				return err
			}
			n := int64(len(batch))
			batch = batch[:0]
			return src.Send(ctx, n, out)
		}
		for it, err := range of(kind) {
			if err != nil {
				return fmt.Errorf("ingest: %w", err)
			}
			batch = append(batch, it)
			if len(batch) == batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		out := src.Output(path)
		out.EndStream(items.Name, key, schemas.Marker{Kind: schemas.StreamEnd, Dataset: in.sum.Dataset, Lang: in.sum.Lang, ItemKind: kind, Langs: in.langs})
		if err := src.Send(ctx, 0, out); err != nil {
			return err
		}
	}
	return nil
}
