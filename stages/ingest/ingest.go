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
	"log/slog"

	"xling/dataset"
	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
)

// Config says what to ingest.
type Config struct {
	DataDir   string
	Datasets  []string            // e.g. "xquad-r", "mlqa-r"
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

// Run validates every file, then produces its records as the source stage src. It returns the files read.
func Run(ctx context.Context, src *pipeline.Source, topics pipeline.Topics, cfg Config, log *slog.Logger) ([]FileSum, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	type dsFiles struct {
		name  string
		langs []string
		files []dataset.File
	}
	var all []dsFiles
	var sums []FileSum
	for _, name := range cfg.Datasets {
		files, err := dataset.Files(cfg.DataDir, name, cfg.Langs[name], log)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		d := dsFiles{name: name, files: files}
		for _, f := range files {
			d.langs = append(d.langs, f.Lang)
			res, err := f.Read(cfg.Read)
			if err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
			sums = append(sums, FileSum{Dataset: name, Lang: f.Lang, Path: f.Path, SHA256: res.SHA256, Items: len(res.Items), Skipped: len(res.Skipped)})
		}
		all = append(all, d)
	}
	i := 0
	for _, d := range all {
		for _, f := range d.files {
			if err := produce(ctx, src, topics.Items(), cfg, f, d.langs, sums[i]); err != nil {
				return nil, err
			}
			log.Info("ingested", "dataset", f.Dataset, "lang", f.Lang, "items", sums[i].Items, "skipped", sums[i].Skipped)
			i++
		}
	}
	if err := src.EndRun(ctx, topics.Items().Name); err != nil {
		return nil, err
	}
	return sums, nil
}

func produce(ctx context.Context, src *pipeline.Source, items pipeline.Topic[schemas.Record], cfg Config, f dataset.File, langs []string, sum FileSum) error {
	res, err := f.Read(cfg.Read)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if res.SHA256 != sum.SHA256 {
		return fmt.Errorf("ingest %s: file changed while the run was reading it", f.Path)
	}
	key := f.Dataset + "/" + f.Lang
	out := src.Output(f.Path)
	for i, skipped := range res.Skipped {
		// Partial loading: the record is not lost, it is on the dead-letter topic with its reason.
		out.Reject(i, map[string]string{"file": f.Path}, skipped)
	}
	if err := src.Send(ctx, int64(len(res.Skipped)), out); err != nil {
		return err
	}
	// Queries first, then candidates: a language's stream of each kind is contiguous.
	for _, kind := range domain.Kinds() {
		var batch []schemas.Record
		flush := func() error {
			out := src.Output(f.Path)
			if err := pipeline.Emit(out, items, key, batch...); err != nil {
				return err
			}
			n := int64(len(batch))
			batch = batch[:0]
			return src.Send(ctx, n, out)
		}
		for _, it := range res.Items {
			if it.Kind != kind {
				continue
			}
			batch = append(batch, it)
			if len(batch) == cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		out := src.Output(f.Path)
		out.EndStream(items.Name, key, schemas.Marker{Kind: schemas.StreamEnd, Dataset: f.Dataset, Lang: f.Lang, ItemKind: kind, Langs: langs})
		if err := src.Send(ctx, 0, out); err != nil {
			return err
		}
	}
	return nil
}
