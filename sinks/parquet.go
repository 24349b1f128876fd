package sinks

import (
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"xling/domain"
	"xling/metrics"
)

// Row is one of the four table schemas below. Every column is required (never null); strings are
// UTF-8 (Parquet STRING), and low-cardinality columns are dictionary-encoded.
type Row interface {
	EmbeddingRow | RankingRow | MetricRow | TrainingRow
	validate() error
	// Key identifies the row within its run: a replayed row has the key of the one it repeats, so a table
	// keeps each key once.
	Key() string
	// dedup writes to h what identifies the row's group, and returns the row's place in it (0 to 63): a
	// ranking's group is its query's list and its place the rank, so a table remembers one bit per row
	// rather than one key. A row with no group writes its Key and returns 0.
	dedup(h *maphash.Hash) int
}

// Dedup writes the identity of r's group to h and returns r's place in it (see Row).
func Dedup[T Row](r T, h *maphash.Hash) int { return r.dedup(h) }

func (r EmbeddingRow) Key() string {
	return strings.Join([]string{r.Model, r.Dataset, r.Lang, r.Kind, r.ItemID}, "\x00")
}

func (r RankingRow) Key() string {
	return strings.Join([]string{r.Model, r.Dataset, r.Setting, r.QueryLang, r.CandLang, r.QueryID, strconv.Itoa(int(r.Rank))}, "\x00")
}

func (r MetricRow) Key() string {
	return strings.Join([]string{r.Model, r.Dataset, r.Setting, r.QueryLang, r.CandLang, r.QueryID, r.Metric}, "\x00")
}

func (r TrainingRow) Key() string {
	return strconv.FormatInt(r.BatchID, 10) + "\x00" + strconv.Itoa(int(r.Position))
}

func (r EmbeddingRow) dedup(h *maphash.Hash) int { h.WriteString(r.Key()); return 0 }
func (r TrainingRow) dedup(h *maphash.Hash) int  { h.WriteString(r.Key()); return 0 }

func (r RankingRow) dedup(h *maphash.Hash) int {
	if r.Rank < 1 || r.Rank > 64 {
		h.WriteString(r.Key())
		return 0
	}
	for _, f := range [...]string{r.Model, r.Dataset, r.Setting, r.QueryLang, r.CandLang, r.QueryID} {
		h.WriteString(f)
		h.WriteByte(0)
	}
	return int(r.Rank - 1)
}

// A metric row's group is its query and setting, and its place the metric's: ten rows, one map entry.
func (r MetricRow) dedup(h *maphash.Hash) int {
	m, err := metrics.Parse(r.Metric)
	if err != nil || m >= 64 {
		h.WriteString(r.Key())
		return 0
	}
	for _, f := range [...]string{r.Model, r.Dataset, r.Setting, r.QueryLang, r.CandLang, r.QueryID} {
		h.WriteString(f)
		h.WriteByte(0)
	}
	return int(m)
}

// EmbeddingRow is one row of an embeddings table: one encoded query or candidate.
//
//	run_id string, model string, dataset string, item_id string, lang string,
//	kind string ("query" | "candidate"), vector list<float32>
type EmbeddingRow struct {
	RunID   string    `parquet:"run_id,dict"`
	Model   string    `parquet:"model,dict"`
	Dataset string    `parquet:"dataset,dict"`
	ItemID  string    `parquet:"item_id"`
	Lang    string    `parquet:"lang,dict"`
	Kind    string    `parquet:"kind,dict"`
	Vector  []float32 `parquet:"vector,list"`
}

// RankingRow is one row of a rankings table: the candidate at one rank of one query's ranking.
//
//	run_id string, model string, dataset string, setting string ("mono" | "cross" | "multi"),
//	query_id string, query_lang string, cand_lang string ("*" for multi), rank int32 (1-based),
//	candidate_id string, score float32, relevant bool, dataset_version string, time timestamp(ms)
//
// dataset_version names the dataset's files the row was computed from (empty when the run did not say) and
// time is when the run or update that wrote it started: tables that grow by appends (xling serve) keep
// every version, and the newest row per Key is the current one.
type RankingRow struct {
	RunID       string  `parquet:"run_id,dict"`
	Model       string  `parquet:"model,dict"`
	Dataset     string  `parquet:"dataset,dict"`
	Setting     string  `parquet:"setting,dict"`
	QueryID     string  `parquet:"query_id"`
	QueryLang   string  `parquet:"query_lang,dict"`
	CandLang    string  `parquet:"cand_lang,dict"`
	Rank        int32   `parquet:"rank"`
	CandidateID string  `parquet:"candidate_id"`
	Score       float32 `parquet:"score"`
	Relevant    bool    `parquet:"relevant"`

	DatasetVersion string    `parquet:"dataset_version,dict"`
	Time           time.Time `parquet:"time,timestamp(millisecond)"`
}

// MetricRow is one row of the long metrics table: one metric of one setting. Aggregates over languages
// use "*" for the language they pool.
//
//	run_id string, model string, dataset string, setting string ("mono" | "cross" | "multi"),
//	query_lang string, cand_lang string, query_id string ("" for means over queries), metric string,
//	value float64, queries int64 (how many queries value averages; 1 for a query's own value),
//	dataset_version string, time timestamp(ms) (as in RankingRow)
type MetricRow struct {
	RunID     string  `parquet:"run_id,dict"`
	Model     string  `parquet:"model,dict"`
	Dataset   string  `parquet:"dataset,dict"`
	Setting   string  `parquet:"setting,dict"`
	QueryLang string  `parquet:"query_lang,dict"`
	CandLang  string  `parquet:"cand_lang,dict"`
	QueryID   string  `parquet:"query_id"`
	Metric    string  `parquet:"metric,dict"`
	Value     float64 `parquet:"value"`
	Queries   int64   `parquet:"queries"`

	DatasetVersion string    `parquet:"dataset_version,dict"`
	Time           time.Time `parquet:"time,timestamp(millisecond)"`
}

// TrainingRow is one (query, passage) pair of one training batch, for an external PyTorch trainer.
// batch_id is signed because torch has no uint64 tensors.
//
//	run_id string, batch_id int64, strategy string, kind string ("mono" | "cross"),
//	position int32 (0-based, within the batch), source string, group string,
//	query_lang string, passage_lang string, query string, passage string
type TrainingRow struct {
	RunID       string `parquet:"run_id,dict"`
	BatchID     int64  `parquet:"batch_id"`
	Strategy    string `parquet:"strategy,dict"`
	Kind        string `parquet:"kind,dict"`
	Position    int32  `parquet:"position"`
	Source      string `parquet:"source,dict"`
	Group       string `parquet:"group"`
	QueryLang   string `parquet:"query_lang,dict"`
	PassageLang string `parquet:"passage_lang,dict"`
	Query       string `parquet:"query"`
	Passage     string `parquet:"passage"`
}

func (r EmbeddingRow) validate() error {
	if !domain.Kind(r.Kind).Valid() {
		return fmt.Errorf("kind %q: want query or candidate", r.Kind)
	}
	if r.ItemID == "" {
		return errors.New("empty item_id")
	}
	if len(r.Vector) == 0 {
		return errors.New("empty vector")
	}
	return nil
}

func (r RankingRow) validate() error {
	if err := checkSetting(r.Setting, r.QueryLang, r.CandLang); err != nil {
		return err
	}
	if r.Rank < 1 {
		return fmt.Errorf("rank %d: ranks start at 1", r.Rank)
	}
	if r.QueryID == "" || r.CandidateID == "" {
		return errors.New("empty query_id or candidate_id")
	}
	return checkTime(r.Time)
}

func (r MetricRow) validate() error {
	if err := checkSetting(r.Setting, r.QueryLang, r.CandLang); err != nil {
		return err
	}
	if r.Metric == "" {
		return errors.New("empty metric")
	}
	if r.Queries < 1 {
		return fmt.Errorf("queries %d: a value averages at least one query", r.Queries)
	}
	return checkTime(r.Time)
}

// checkTime refuses an unset time: parquet-go writes a timestamp through UnixNano, which overflows for
// time.Time's zero (year 1) and would store a date in 1754.
func checkTime(t time.Time) error {
	if t.IsZero() {
		return errors.New("time: unset")
	}
	return nil
}

func (r TrainingRow) validate() error {
	if r.Kind != "mono" && r.Kind != "cross" {
		return fmt.Errorf("kind %q: want mono or cross", r.Kind)
	}
	if r.BatchID < 0 || r.Position < 0 {
		return fmt.Errorf("batch_id %d, position %d: must not be negative", r.BatchID, r.Position)
	}
	return nil
}

// checkSetting checks the setting name and, for a multilingual setting, that candidates are pooled.
func checkSetting(setting, queryLang, candLang string) error {
	switch domain.Setting(setting) {
	case domain.Mono, domain.Cross,
		// Summaries score writes once a dataset's pool is complete: means over settings, and per language
		// its cross-lingual mean and its degradation from English.
		domain.MonoMean, domain.CrossMean, domain.MultiMean, domain.LangCross, domain.DegrMulti, domain.DegrCross:
	case domain.Multi:
		if candLang != domain.Pool {
			return fmt.Errorf("setting multi with cand_lang %q: want \"*\"", candLang)
		}
	default:
		return fmt.Errorf("setting %q: want mono, cross or multi", setting)
	}
	if queryLang == "" || candLang == "" {
		return errors.New("empty query_lang or cand_lang")
	}
	return nil
}

// DefaultRowGroupRows bounds the rows a Writer buffers before it writes a row group: at dimension 768
// that is about 50 MB of vectors.
const DefaultRowGroupRows = 16384

// Options tune a Writer; the zero value is the default.
type Options struct {
	RowGroupRows int64 // rows per row group; 0 means DefaultRowGroupRows
}

// Writer streams rows of one schema into a Parquet file that appears at its path only on Close.
// A failed Write aborts the file, so a Writer never commits a table that misses rows.
type Writer[T Row] struct {
	file *File
	pw   *parquet.GenericWriter[T]
	rows int64
	err  error // the failure that aborted the file
}

// Create starts a Parquet table at path. Call Close to commit it, or Abort to drop it; deferring Abort
// right after Create is safe.
func Create[T Row](path string, opts Options) (*Writer[T], error) {
	f, err := CreateFile(path)
	if err != nil {
		return nil, err
	}
	rg := opts.RowGroupRows
	if rg <= 0 {
		rg = DefaultRowGroupRows
	}
	pw := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(rg))
	return &Writer[T]{file: f, pw: pw}, nil
}

// Write appends rows. Rows are checked before any is written; an invalid row or an I/O error aborts
// the file, and every later call returns that error.
func (w *Writer[T]) Write(rows ...T) error {
	if w.err != nil {
		return w.err
	}
	for i, r := range rows {
		if err := r.validate(); err != nil {
			return w.fail(fmt.Errorf("write %s: row %d: %w", w.file.path, w.rows+int64(i), err))
		}
	}
	n, err := w.pw.Write(rows)
	w.rows += int64(n)
	if err != nil {
		return w.fail(fmt.Errorf("write %s: %w", w.file.path, err))
	}
	return nil
}

// Close writes the footer and commits the file, returning what the manifest records of it.
func (w *Writer[T]) Close() (OutputFile, error) {
	if w.err != nil {
		return OutputFile{}, w.err
	}
	if err := w.pw.Close(); err != nil {
		return OutputFile{}, w.fail(fmt.Errorf("close %s: %w", w.file.path, err))
	}
	out, err := w.file.Commit()
	if err != nil {
		w.err = err
		return OutputFile{}, err
	}
	w.err = fmt.Errorf("write %s: %w", w.file.path, os.ErrClosed)
	out.Rows = w.rows
	return out, nil
}

// Abort drops the file. It does nothing after Close.
func (w *Writer[T]) Abort() error {
	if w.err == nil {
		w.err = fmt.Errorf("write %s: aborted", w.file.path)
	}
	return w.file.Abort()
}

func (w *Writer[T]) fail(err error) error {
	w.err = err
	if aerr := w.file.Abort(); aerr != nil {
		w.err = errors.Join(err, aerr)
	}
	return w.err
}

// Path is where the table is committed.
func (w *Writer[T]) Path() string { return w.file.path }
