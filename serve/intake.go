package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"

	"xling/dataset"
	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
	"xling/sinks"
)

// IntakeRun is the run id that items produced to the intake topic carry (header xling-run).
const IntakeRun = "intake"

// maxIntakeItems bounds the items one language of the intake may hold before its stream ends.
const maxIntakeItems = 1 << 20

// intake takes items that another system produced to the intake topic and, once both streams of a
// language have ended with counts that match, writes them as <data>/<dataset>/<lang>.json
// (dataset.WriteLAReQA), where the next scan takes them up like any file. While it holds a language not yet
// written it is unsettled, so its offsets are committed only past languages written: after a restart the
// broker gives it again what it had not written.
type intake struct {
	data string
	log  *slog.Logger
	fail func(what string, err error)

	mu    sync.Mutex
	langs map[[2]string]*intakeLang // by dataset, language
}

type intakeLang struct {
	items map[string]schemas.Record // by id: a replayed record is kept once
	ended map[domain.Kind]int64     // stream-end counts
}

func (in *intake) add(r schemas.Record) error {
	if r.Dataset != dataset.XQuADR && r.Dataset != dataset.MLQAR {
		return fmt.Errorf("intake: dataset %q: items are written as LAReQA files, so the dataset must be %s or %s", r.Dataset, dataset.XQuADR, dataset.MLQAR)
	}
	if _, err := domain.ParseLang(r.Lang); err != nil {
		return fmt.Errorf("intake: item %s: %w", r.ID, err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	l := in.lang(r.Dataset, r.Lang)
	if len(l.items) >= maxIntakeItems {
		return fmt.Errorf("intake: %s/%s holds %d items already, the most one language may", r.Dataset, r.Lang, maxIntakeItems)
	}
	l.items[r.ID] = r
	return nil
}

// lang returns what the intake holds of one language, made empty on first use; in.mu is held.
func (in *intake) lang(dataset, lang string) *intakeLang {
	k := [2]string{dataset, lang}
	l := in.langs[k]
	if l == nil {
		l = &intakeLang{items: map[string]schemas.Record{}, ended: map[domain.Kind]int64{}}
		in.langs[k] = l
	}
	return l
}

// end closes one stream; when it closes a language, the language is written.
func (in *intake) end(m schemas.Marker) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	l := in.lang(m.Dataset, m.Lang)
	l.ended[m.ItemKind] = m.Count
	for _, kind := range domain.Kinds() {
		if _, ok := l.ended[kind]; !ok {
			return nil
		}
	}
	delete(in.langs, [2]string{m.Dataset, m.Lang})
	items := slices.Collect(maps.Values(l.items))
	what := fmt.Sprintf("intake %s/%s", m.Dataset, m.Lang)
	for _, kind := range domain.Kinds() {
		n := int64(0)
		for _, it := range items {
			if it.Kind == kind {
				n++
			}
		}
		if n != l.ended[kind] {
			in.fail(what, fmt.Errorf("%d %s items received, the stream-end marker counts %d: the language is dropped", n, kind, l.ended[kind]))
			return nil
		}
	}
	path := filepath.Join(in.data, m.Dataset, m.Lang+".json")
	f, err := sinks.CreateFile(path)
	if err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	if err := dataset.WriteLAReQA(f, m.Lang, items); err != nil {
		f.Abort()
		in.fail(what, err)
		return nil
	}
	if _, err := f.Commit(); err != nil {
		return fmt.Errorf("intake: %w", err)
	}
	in.log.Info("intake: language written", "dataset", m.Dataset, "lang", m.Lang, "items", len(items), "path", path)
	return nil
}

func (in *intake) settled() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.langs) == 0
}

func (in *intake) reset() {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.langs)
}

// runIntake consumes the intake topic until ctx ends.
func (s *Service) runIntake(ctx context.Context, st *pipeline.Stage[schemas.Record]) {
	w := pipeline.Worker{Transport: s.broker, Topics: s.topics, RunID: IntakeRun, Log: s.log}
	err := pipeline.Run(ctx, w, st)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		s.log.Warn("intake: a run-end marker ended the intake; items produced later are not read until a restart")
	case errors.Is(err, context.Canceled):
	default:
		s.log.Error("intake stopped", "err", err)
		s.updateFailed("intake", err)
	}
}

func (s *Service) intakeStage() *pipeline.Stage[schemas.Record] {
	in := &intake{data: s.cfg.DataDir, log: s.log, langs: map[[2]string]*intakeLang{},
		fail: func(what string, err error) { s.updateFailed(what, err) }}
	return &pipeline.Stage[schemas.Record]{
		Name: IntakeRun, Input: s.topics.Intake(),
		Process: func(_ context.Context, _ string, rows []schemas.Record, o *pipeline.Output) error {
			for i, r := range rows {
				if err := in.add(r); err != nil {
					o.Reject(i, r, err)
				}
			}
			return nil
		},
		End:     func(_ context.Context, _ string, m schemas.Marker, _ *pipeline.Output) error { return in.end(m) },
		Settled: in.settled,
		Reset:   in.reset,
	}
}
