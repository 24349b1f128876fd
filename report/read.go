package report

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"

	"xling/domain"
	"xling/experiment"
	"xling/schemas"
	"xling/sinks"
)

// Limits bound what the readers accept from files they did not write themselves.
type Limits struct {
	MaxRows  int64 // metric rows per run; 0 means DefaultMaxRows
	MaxBytes int64 // bytes of results.json after decompression; 0 means DefaultMaxBytes
}

const (
	// DefaultMaxRows is about 20 times the metric rows of a full XQuAD-R + MLQA-R run.
	DefaultMaxRows = 10_000_000
	// DefaultMaxBytes is about 50 times the committed experiment's results.json.
	DefaultMaxBytes = 512 << 20
)

func (l Limits) rows() int64 {
	if l.MaxRows > 0 {
		return l.MaxRows
	}
	return DefaultMaxRows
}

func (l Limits) bytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

// ReadRun reads a run directory's metrics.parquet (sinks.MetricRow) into one Set per (model, dataset): every
// summary row, and of the per-query rows those of perQueryMetric, the only ones the report reads (a large
// pool has millions of the others).
func ReadRun(dir string, lim Limits) ([]Set, error) {
	path := filepath.Join(dir, "metrics.parquet")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	if n := pf.NumRows(); n > lim.rows() {
		return nil, fmt.Errorf("report: %s: %d rows, more than the limit of %d", path, n, lim.rows())
	}
	r := parquet.NewGenericReader[sinks.MetricRow](pf)
	defer r.Close()
	var sets []Set
	index := map[[2]string]int{}
	buf := make([]sinks.MetricRow, 4096)
	var row int64
	for {
		n, err := r.Read(buf)
		for _, m := range buf[:n] {
			if m.Model == "" || m.Dataset == "" || m.Setting == "" || m.Metric == "" {
				return nil, fmt.Errorf("report: %s: row %d: empty model, dataset, setting or metric", path, row)
			}
			row++
			if m.QueryID != "" && m.Metric != perQueryMetric {
				continue
			}
			k := [2]string{m.Model, m.Dataset}
			i, ok := index[k]
			if !ok {
				i = len(sets)
				index[k] = i
				sets = append(sets, Set{Model: m.Model, Dataset: m.Dataset, Run: m.RunID, Runs: [][]schemas.Metric{nil}})
			}
			sets[i].Runs[0] = append(sets[i].Runs[0], schemas.Metric{
				Dataset: m.Dataset, Model: m.Model, Setting: domain.Setting(m.Setting), QueryLang: m.QueryLang, CandLang: m.CandLang,
				QueryID: m.QueryID, Name: m.Metric, Value: m.Value, Queries: m.Queries,
			})
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("report: %s: row %d: %w", path, row, err)
		}
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("report: %s: no metric rows", path)
	}
	return sets, nil
}

// ReadResults reads an experiment's results.json, gzip-compressed when its name ends in .gz.
func ReadResults(path string, lim Limits) (*experiment.Results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	// One byte over the limit tells a file at the limit from a longer one.
	b, err := io.ReadAll(io.LimitReader(r, lim.bytes()+1))
	if err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	if int64(len(b)) > lim.bytes() {
		return nil, fmt.Errorf("report: %s: more than %d bytes", path, lim.bytes())
	}
	var res experiment.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("report: %s: %w", path, err)
	}
	if res.Config.Eval == "" {
		return nil, fmt.Errorf("report: %s: config.eval is empty: not an experiment's results.json", path)
	}
	return &res, nil
}

// FromResults turns an experiment into report input: one Set per arm (the untrained floor and every
// strategy; the alpha sweep is left out), its seeds as the Set's runs, and the experiment's paired tests.
func FromResults(res *experiment.Results) Input {
	ds := res.Config.Eval
	arms := []string{"untrained"}
	for _, s := range res.Config.Strategies {
		arms = append(arms, s.Name)
	}
	var in Input
	for _, a := range arms {
		set := Set{Model: a, Dataset: ds, Run: "experiment"}
		runs := res.Runs
		if a == "untrained" {
			runs = []experiment.Run{res.Untrained}
		}
		for _, r := range runs {
			if r.Strategy == a && !r.Sweep {
				set.Runs = append(set.Runs, r.Metrics)
			}
		}
		if len(set.Runs) > 0 {
			in.Sets = append(in.Sets, set)
		}
	}
	for _, t := range res.Tests {
		in.Tests = append(in.Tests, Test{Dataset: ds, A: t.ArmA, B: t.ArmB, Measure: t.Measure, Queries: t.Queries, MeanA: t.MeanA, MeanB: t.MeanB, P: t.P})
	}
	return in
}
