package sinks

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// arrowTable is a Parquet file as arrow-go reads it: the schema as "name: type" lines, the rows as
// column name -> Go value, and the number of row groups.
type arrowTable struct {
	schema    []string
	rows      []map[string]any
	rowGroups int
}

// readArrow reads a Parquet file with arrow-go, a reader independent of the parquet-go writer under test.
func readArrow(t *testing.T, path string) arrowTable {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("arrow: open %s: %v", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow: reader %s: %v", path, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("arrow: read %s: %v", path, err)
	}
	defer tbl.Release()

	out := arrowTable{rows: make([]map[string]any, tbl.NumRows()), rowGroups: pf.NumRowGroups()}
	for i := range out.rows {
		out.rows[i] = map[string]any{}
	}
	for c := range int(tbl.NumCols()) {
		f := tbl.Schema().Field(c)
		nullable := ""
		if f.Nullable {
			nullable = " (nullable)"
		}
		out.schema = append(out.schema, f.Name+": "+f.Type.String()+nullable)
		row := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := range chunk.Len() {
				if chunk.IsNull(i) {
					t.Fatalf("arrow: %s row %d is null", f.Name, row)
				}
				out.rows[row][f.Name] = arrowValue(t, chunk, i)
				row++
			}
		}
	}
	return out
}

func arrowValue(t *testing.T, a arrow.Array, i int) any {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		return int64(a.Value(i)) // in the type's unit, which the schema check names
	case *array.List:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues().(*array.Float32).Float32Values()
		return append([]float32{}, vals[start:end]...)
	}
	t.Fatalf("arrow: unexpected array type %s", a.DataType())
	return nil
}

// writeTable writes rows through a Writer in chunks of three calls' worth, so that row groups of two
// rows cut across Write calls.
func writeTable[T Row](t *testing.T, path string, rows []T) OutputFile {
	t.Helper()
	w, err := Create[T](path, Options{RowGroupRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for len(rows) > 0 {
		n := min(3, len(rows))
		if err := w.Write(rows[:n]...); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	out, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriterTablesReadBackWithArrow(t *testing.T) {
	// A time with sub-millisecond parts: the column keeps milliseconds, written by hand below.
	t0 := time.Date(2026, 12, 2, 1, 2, 3, 4_500_000, time.UTC)
	const t0ms = int64(1796173323004)
	dir := t.TempDir()
	tests := []struct {
		name   string
		write  func(path string) OutputFile
		schema []string
		want   []map[string]any
	}{
		{
			name: "embeddings",
			write: func(path string) OutputFile {
				return writeTable(t, path, []EmbeddingRow{
					{"r1", "hashbag", "xquad-r", "en/q/56be4db0", "en", "query", []float32{1, -2.5, 0}},
					{"r1", "hashbag", "xquad-r", "el/c/0.0.1", "el", "candidate", []float32{0.25, float32(math.Inf(1)), -0}},
					{"r1", "hashbag", "xquad-r", "zh/c/3.1.4", "zh", "candidate", []float32{1e-30, 3.4e38, 7}},
				})
			},
			schema: []string{"run_id: utf8", "model: utf8", "dataset: utf8", "item_id: utf8", "lang: utf8",
				"kind: utf8", "vector: list<element: float32>"},
			want: []map[string]any{
				{"run_id": "r1", "model": "hashbag", "dataset": "xquad-r", "item_id": "en/q/56be4db0", "lang": "en", "kind": "query", "vector": []float32{1, -2.5, 0}},
				{"run_id": "r1", "model": "hashbag", "dataset": "xquad-r", "item_id": "el/c/0.0.1", "lang": "el", "kind": "candidate", "vector": []float32{0.25, float32(math.Inf(1)), 0}},
				{"run_id": "r1", "model": "hashbag", "dataset": "xquad-r", "item_id": "zh/c/3.1.4", "lang": "zh", "kind": "candidate", "vector": []float32{1e-30, 3.4e38, 7}},
			},
		},
		{
			name: "rankings",
			write: func(path string) OutputFile {
				return writeTable(t, path, []RankingRow{
					{"r1", "m", "mlqa-r", "mono", "en/q/1", "en", "en", 1, "en/c/0.0.0", 0.875, true, "v1", t0},
					{"r1", "m", "mlqa-r", "cross", "de/q/1", "de", "ar", 2, "ar/c/0.0.3", -0.125, false, "v1", t0},
					{"r1", "m", "mlqa-r", "multi", "vi/q/9", "vi", "*", 20, "zh/c/1.2.3", 0.5, true, "v1", t0},
					{"r1", "m", "mlqa-r", "multi", "vi/q/9", "vi", "*", 21, "hi/c/1.2.3", 0.25, false, "v1", t0},
				})
			},
			schema: []string{"run_id: utf8", "model: utf8", "dataset: utf8", "setting: utf8", "query_id: utf8",
				"query_lang: utf8", "cand_lang: utf8", "rank: int32", "candidate_id: utf8", "score: float32", "relevant: bool",
				"dataset_version: utf8", "time: timestamp[ms, tz=UTC]"},
			want: []map[string]any{
				{"run_id": "r1", "model": "m", "dataset": "mlqa-r", "setting": "mono", "query_id": "en/q/1", "query_lang": "en", "cand_lang": "en", "rank": int32(1), "candidate_id": "en/c/0.0.0", "score": float32(0.875), "relevant": true, "dataset_version": "v1", "time": t0ms},
				{"run_id": "r1", "model": "m", "dataset": "mlqa-r", "setting": "cross", "query_id": "de/q/1", "query_lang": "de", "cand_lang": "ar", "rank": int32(2), "candidate_id": "ar/c/0.0.3", "score": float32(-0.125), "relevant": false, "dataset_version": "v1", "time": t0ms},
				{"run_id": "r1", "model": "m", "dataset": "mlqa-r", "setting": "multi", "query_id": "vi/q/9", "query_lang": "vi", "cand_lang": "*", "rank": int32(20), "candidate_id": "zh/c/1.2.3", "score": float32(0.5), "relevant": true, "dataset_version": "v1", "time": t0ms},
				{"run_id": "r1", "model": "m", "dataset": "mlqa-r", "setting": "multi", "query_id": "vi/q/9", "query_lang": "vi", "cand_lang": "*", "rank": int32(21), "candidate_id": "hi/c/1.2.3", "score": float32(0.25), "relevant": false, "dataset_version": "v1", "time": t0ms},
			},
		},
		{
			name: "metrics",
			write: func(path string) OutputFile {
				return writeTable(t, path, []MetricRow{
					{"r1", "m", "xquad-r", "mono", "en", "en", "", "map", 0.7921875, 1190, "v1", t0},
					{"r1", "m", "xquad-r", "cross", "*", "*", "", "f1@20", 1.0 / 3, 130900, "v1", t0},
					{"r1", "m", "xquad-r", "multi", "th", "*", "th/q/7", "rank_distance", 12, 1, "v1", t0},
				})
			},
			schema: metricSchema,
			want: []map[string]any{
				{"run_id": "r1", "model": "m", "dataset": "xquad-r", "setting": "mono", "query_lang": "en", "cand_lang": "en", "query_id": "", "metric": "map", "value": 0.7921875, "queries": int64(1190), "dataset_version": "v1", "time": t0ms},
				{"run_id": "r1", "model": "m", "dataset": "xquad-r", "setting": "cross", "query_lang": "*", "cand_lang": "*", "query_id": "", "metric": "f1@20", "value": 0.3333333333333333, "queries": int64(130900), "dataset_version": "v1", "time": t0ms},
				{"run_id": "r1", "model": "m", "dataset": "xquad-r", "setting": "multi", "query_lang": "th", "cand_lang": "*", "query_id": "th/q/7", "metric": "rank_distance", "value": 12.0, "queries": int64(1), "dataset_version": "v1", "time": t0ms},
			},
		},
		{
			name: "training batches",
			write: func(path string) OutputFile {
				return writeTable(t, path, []TrainingRow{
					{"r1", 0, "hybrid(0.5)", "mono", 0, "mlqa-r", "q17", "de", "de", "Query: Wer?", "Passage: Goethe schrieb."},
					{"r1", 0, "hybrid(0.5)", "mono", 1, "tatoeba", "line 4", "de", "de", "Query: Wo?", "Passage: In Weimar."},
					{"r1", 1 << 40, "x-y", "cross", 0, "ntrex", "7", "th", "zh", "Query: ที่ไหน", "Passage: 在北京。"},
				})
			},
			schema: []string{"run_id: utf8", "batch_id: int64", "strategy: utf8", "kind: utf8", "position: int32",
				"source: utf8", "group: utf8", "query_lang: utf8", "passage_lang: utf8", "query: utf8", "passage: utf8"},
			want: []map[string]any{
				{"run_id": "r1", "batch_id": int64(0), "strategy": "hybrid(0.5)", "kind": "mono", "position": int32(0), "source": "mlqa-r", "group": "q17", "query_lang": "de", "passage_lang": "de", "query": "Query: Wer?", "passage": "Passage: Goethe schrieb."},
				{"run_id": "r1", "batch_id": int64(0), "strategy": "hybrid(0.5)", "kind": "mono", "position": int32(1), "source": "tatoeba", "group": "line 4", "query_lang": "de", "passage_lang": "de", "query": "Query: Wo?", "passage": "Passage: In Weimar."},
				{"run_id": "r1", "batch_id": int64(1099511627776), "strategy": "x-y", "kind": "cross", "position": int32(0), "source": "ntrex", "group": "7", "query_lang": "th", "passage_lang": "zh", "query": "Query: ที่ไหน", "passage": "Passage: 在北京。"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".parquet")
			out := tt.write(path)
			got := readArrow(t, path)
			if !reflect.DeepEqual(got.schema, tt.schema) {
				t.Errorf("schema:\n got %q\nwant %q", got.schema, tt.schema)
			}
			if !reflect.DeepEqual(got.rows, tt.want) {
				t.Errorf("rows:\n got %v\nwant %v", got.rows, tt.want)
			}
			// Row groups of two rows show that rows were flushed as they came, not held to the end.
			if wantRG := (len(tt.want) + 1) / 2; got.rowGroups != wantRG {
				t.Errorf("row groups = %d, want %d", got.rowGroups, wantRG)
			}
			if out.Path != path || out.Rows != int64(len(tt.want)) {
				t.Errorf("output = %+v, want path %s and %d rows", out, path, len(tt.want))
			}
			if want := sha256sum(t, path); out.SHA256 != want || out.Bytes != fileSize(t, path) {
				t.Errorf("output sha256 %s, bytes %d; file has %s, %d", out.SHA256, out.Bytes, want, fileSize(t, path))
			}
		})
	}
}

// metricSchema is the metrics table's columns as an independent reader (pqarrow) sees them.
var metricSchema = []string{"run_id: utf8", "model: utf8", "dataset: utf8", "setting: utf8", "query_lang: utf8",
	"cand_lang: utf8", "query_id: utf8", "metric: utf8", "value: float64", "queries: int64",
	"dataset_version: utf8", "time: timestamp[ms, tz=UTC]"}

func TestWriterEmptyTableHasSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.parquet")
	out := writeTable[MetricRow](t, path, nil)
	got := readArrow(t, path)
	if len(got.rows) != 0 || !reflect.DeepEqual(got.schema, metricSchema) || out.Rows != 0 {
		t.Errorf("empty table: %d rows, schema %q, output %+v", len(got.rows), got.schema, out)
	}
}

func TestWriterRejectsInvalidRows(t *testing.T) {
	emb := EmbeddingRow{RunID: "r", ItemID: "en/q/1", Lang: "en", Kind: "query", Vector: []float32{1}}
	rank := RankingRow{Setting: "cross", QueryID: "q", QueryLang: "en", CandLang: "de", Rank: 1, CandidateID: "c", Time: time.Unix(1, 0)}
	metric := MetricRow{Setting: "mono", QueryLang: "en", CandLang: "en", Metric: "map", Queries: 1, Time: time.Unix(1, 0)}
	train := TrainingRow{Kind: "cross", QueryLang: "en", PassageLang: "de"}
	tests := []struct {
		name  string
		write func(path string) (writeErr, closeErr error)
	}{
		{"embedding kind", func(p string) (error, error) { r := emb; r.Kind = "doc"; return writeRows(p, emb, r) }},
		{"empty vector", func(p string) (error, error) { r := emb; r.Vector = nil; return writeRows(p, emb, r) }},
		{"empty item id", func(p string) (error, error) { r := emb; r.ItemID = ""; return writeRows(p, emb, r) }},
		{"rank zero", func(p string) (error, error) { r := rank; r.Rank = 0; return writeRows(p, rank, r) }},
		{"setting name", func(p string) (error, error) { r := rank; r.Setting = "mixed"; return writeRows(p, rank, r) }},
		{"multi without pooled candidates", func(p string) (error, error) {
			r := rank
			r.Setting = "multi"
			return writeRows(p, rank, r)
		}},
		{"metric without queries", func(p string) (error, error) { r := metric; r.Queries = 0; return writeRows(p, metric, r) }},
		{"metric name", func(p string) (error, error) { r := metric; r.Metric = ""; return writeRows(p, metric, r) }},
		{"metric without time", func(p string) (error, error) { r := metric; r.Time = time.Time{}; return writeRows(p, metric, r) }},
		{"ranking without time", func(p string) (error, error) { r := rank; r.Time = time.Time{}; return writeRows(p, rank, r) }},
		{"training kind", func(p string) (error, error) { r := train; r.Kind = "hybrid"; return writeRows(p, train, r) }},
		{"negative batch id", func(p string) (error, error) { r := train; r.BatchID = -1; return writeRows(p, train, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeErr, closeErr := tt.write(filepath.Join(dir, "t.parquet"))
			if writeErr == nil || closeErr == nil {
				t.Fatalf("invalid row: write error %v, close error %v; want both", writeErr, closeErr)
			}
			assertEmptyDir(t, dir)
		})
	}
}

// writeRows writes a valid row, then the row under test, then closes; it returns both errors.
func writeRows[T Row](path string, valid, row T) (writeErr, closeErr error) {
	w, err := Create[T](path, Options{})
	if err != nil {
		return err, err
	}
	defer w.Abort()
	if err := w.Write(valid); err != nil {
		return fmt.Errorf("valid row rejected: %w", err), nil
	}
	writeErr = w.Write(row)
	_, closeErr = w.Close()
	return writeErr, closeErr
}

func BenchmarkEmbeddingsWrite(b *testing.B) {
	const dim, batch = 128, 1024
	rows := make([]EmbeddingRow, batch)
	for i := range rows {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(i*dim+j) / (batch * dim)
		}
		rows[i] = EmbeddingRow{"run", "hashbag", "xquad-r", fmt.Sprintf("en/c/%d.0.0", i), "en", "candidate", v}
	}
	w, err := Create[EmbeddingRow](filepath.Join(b.TempDir(), "emb.parquet"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Abort()
	start := time.Now()
	for b.Loop() {
		if err := w.Write(rows...); err != nil {
			b.Fatal(err)
		}
	}
	out, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(out.Rows)/elapsed, "rows/s")
	b.ReportMetric(float64(out.Bytes)/float64(out.Rows), "B/row")
}

// dedupOf is r's dedup group, hashed with seed, and its place in it.
func dedupOf[T Row](seed maphash.Seed, r T) (uint64, int) {
	var h maphash.Hash
	h.SetSeed(seed)
	place := Dedup(r, &h)
	return h.Sum64(), place
}

// A ranking's dedup group is its query's list and its place the rank: the rows of one list share a group
// and differ in place; another query's list is another group.
func TestRankingRowsDedupByListAndRank(t *testing.T) {
	seed := maphash.MakeSeed()
	group := func(r RankingRow) (uint64, int) { return dedupOf(seed, r) }
	r1 := RankingRow{Model: "m", Dataset: "d", Setting: "mono", QueryLang: "en", CandLang: "en", QueryID: "q1", Rank: 1}
	r2, other, deep := r1, r1, r1
	r2.Rank, other.QueryID, deep.Rank = 2, "q2", 65
	g1, p1 := group(r1)
	g2, p2 := group(r2)
	g3, _ := group(other)
	g4, p4 := group(deep)
	if g1 != g2 || p1 != 0 || p2 != 1 {
		t.Errorf("ranks 1 and 2 of one list: groups %x %x, places %d %d; want one group, places 0 and 1", g1, g2, p1, p2)
	}
	if g3 == g1 || g4 == g1 || p4 != 0 {
		t.Errorf("another query's list shares the group (%v), or rank 65 (past one word of bits) is not its own group at place 0 (%v, %d)", g3 == g1, g4 == g1, p4)
	}
}

// A metric row's dedup group is its query's setting and its place the metric: a query's ten metrics share
// one group; another query, or a metric name xling does not know, is another group.
func TestMetricRowsDedupByQueryAndMetric(t *testing.T) {
	seed := maphash.MakeSeed()
	group := func(r MetricRow) (uint64, int) { return dedupOf(seed, r) }
	m := MetricRow{Model: "m", Dataset: "d", Setting: "multi", QueryLang: "en", CandLang: "*", QueryID: "q1", Metric: "map"}
	f1, other, unknown := m, m, m
	f1.Metric, other.QueryID, unknown.Metric = "f1@10", "q2", "bleu"
	g1, p1 := group(m)
	g2, p2 := group(f1)
	g3, _ := group(other)
	g4, p4 := group(unknown)
	if g1 != g2 || p1 != 0 || p2 != 8 {
		t.Errorf("map and f1@10 of one query: groups %x %x, places %d %d; want one group, places 0 and 8", g1, g2, p1, p2)
	}
	if g3 == g1 || g4 == g1 || p4 != 0 {
		t.Errorf("another query shares the group (%v), or an unknown metric is not its own group at place 0 (%v, %d)", g3 == g1, g4 == g1, p4)
	}
}
