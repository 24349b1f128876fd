package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"xling/internal/testenv"
	"xling/retrieval"
	"xling/sinks"
	"xling/sinks/pgstore/pgtest"
)

// makeRows makes nq queries and nc candidates of dim L2-normalised random floats, in three languages.
func makeRows(seed uint64, runID, dataset string, nq, nc, dim int) []sinks.EmbeddingRow {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	langs := []string{"sw", "am", "ja"}
	var rows []sinks.EmbeddingRow
	for i := range nq + nc {
		kind, id := "query", fmt.Sprintf("q/%04d", i)
		if i >= nq {
			kind, id = "candidate", fmt.Sprintf("c/%05d", i-nq)
		}
		lang := langs[i%len(langs)]
		v := make([]float32, dim)
		var norm float64
		for d := range v {
			v[d] = float32(rng.NormFloat64())
			norm += float64(v[d]) * float64(v[d])
		}
		for d := range v {
			v[d] = float32(float64(v[d]) / math.Sqrt(norm))
		}
		rows = append(rows, sinks.EmbeddingRow{RunID: runID, Model: "m1", Dataset: dataset, ItemID: lang + "/" + id, Lang: lang, Kind: kind, Vector: v})
	}
	return rows
}

// checksum is order-independent: the wrapping sum of a hash of every row, vector bits included.
func checksum(rows []sinks.EmbeddingRow) uint64 {
	var sum uint64
	for _, r := range rows {
		h := sha256.New()
		for _, s := range []string{r.RunID, r.Model, r.Dataset, r.ItemID, r.Lang, r.Kind} {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		for _, x := range r.Vector {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)))
		}
		sum += binary.LittleEndian.Uint64(h.Sum(nil))
	}
	return sum
}

// connect opens a plain pgx connection, closed when the test ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// readBack reads the table with plain pgx, independently of the Writer.
func readBack(t *testing.T, dsn, where string, args ...any) []sinks.EmbeddingRow {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, dsn)
	rs, err := conn.Query(ctx, `SELECT run_id, model, dataset, item_id, lang, kind, vector FROM embeddings `+where, args...)
	if err != nil {
		t.Fatal(err)
	}
	var out []sinks.EmbeddingRow
	for rs.Next() {
		var r sinks.EmbeddingRow
		if err := rs.Scan(&r.RunID, &r.Model, &r.Dataset, &r.ItemID, &r.Lang, &r.Kind, &r.Vector); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func queryOne[T any](t *testing.T, dsn, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn := connect(t, dsn)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func open(t *testing.T, cfg Config) *Writer {
	t.Helper()
	w, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestStore(t *testing.T) {
	pg := pgtest.Start(t)
	dsn := pg.DSN()
	ctx := context.Background()
	rows := makeRows(1, "run1", "roundtrip", 100, 900, 32)

	t.Run("rows read back", func(t *testing.T) {
		w := open(t, Config{DSN: dsn, BatchRows: 128})
		if err := w.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, dsn, "WHERE dataset = 'roundtrip'")
		if len(got) != len(rows) || checksum(got) != checksum(rows) {
			t.Fatalf("read back %d rows, checksum %x; wrote %d, checksum %x", len(got), checksum(got), len(rows), checksum(rows))
		}
		if w.Vector() {
			t.Error("Vector() = true without pgvector")
		}
		if typ := queryOne[string](t, dsn, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'embeddings'::regclass AND attname = 'vector'`); typ != "real[]" {
			t.Errorf("vector column is %s, want real[]", typ)
		}
		if ok, err := w.Healthy(); !ok || err != nil {
			t.Errorf("Healthy() = %v, %v after a good write", ok, err)
		}
	})

	t.Run("replay leaves the same rows", func(t *testing.T) {
		before := queryOne[time.Time](t, dsn, `SELECT max(updated_at) FROM embeddings WHERE dataset = 'roundtrip'`)
		// Another worker, other batch boundaries, reversed order: the same rows.
		w := open(t, Config{DSN: dsn, BatchRows: 300})
		replay := slices.Clone(rows)
		slices.Reverse(replay)
		if err := w.Write(ctx, replay); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, dsn, "WHERE dataset = 'roundtrip'")
		if len(got) != len(rows) || checksum(got) != checksum(rows) {
			t.Fatalf("after replay %d rows, checksum %x; want %d, %x", len(got), checksum(got), len(rows), checksum(rows))
		}
		if after := queryOne[time.Time](t, dsn, `SELECT max(updated_at) FROM embeddings WHERE dataset = 'roundtrip'`); !after.Equal(before) {
			t.Errorf("a replay of unchanged rows rewrote some: updated_at %v -> %v", before, after)
		}
	})

	t.Run("a later row with the same key wins", func(t *testing.T) {
		w := open(t, Config{DSN: dsn})
		a, b := rows[5], rows[5]
		a.RunID, b.RunID = "run2", "run3"
		b.Vector = slices.Clone(b.Vector)
		b.Vector[0] = -b.Vector[0]
		if err := w.Write(ctx, []sinks.EmbeddingRow{a, b}); err != nil {
			t.Fatal(err)
		}
		got := readBack(t, dsn, "WHERE dataset = 'roundtrip' AND item_id = $1 AND kind = $2", b.ItemID, b.Kind)
		if len(got) != 1 || checksum(got) != checksum([]sinks.EmbeddingRow{b}) {
			t.Fatalf("got %+v, want the one row %+v", got, b)
		}
		if n := queryOne[int64](t, dsn, `SELECT count(*) FROM embeddings WHERE dataset = 'roundtrip'`); n != int64(len(rows)) {
			t.Errorf("%d rows, want %d", n, len(rows))
		}
	})

	// A worker stopped mid-way, by its context or by SIGKILL: the batches committed stay, the one in
	// flight rolls back, and a restarted worker that writes every row again leaves exactly the rows.
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, dataset string, rows []sinks.EmbeddingRow, stop <-chan struct{})
	}{
		{"context cancelled", func(t *testing.T, dataset string, rows []sinks.EmbeddingRow, stop <-chan struct{}) {
			cctx, cancel := context.WithCancel(ctx)
			go func() { <-stop; cancel() }()
			err := open(t, Config{DSN: dsn, BatchRows: 500}).Write(cctx, rows)
			if err == nil || !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("Write: %v, want context canceled", err)
			}
		}},
		{"process killed", func(t *testing.T, dataset string, rows []sinks.EmbeddingRow, stop <-chan struct{}) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
			cmd.Env = append(os.Environ(), helperEnv+"="+dsn, helperEnv+"_DATASET="+dataset)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			<-stop
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Errorf("writer process: %v, want killed", err)
			}
		}},
	} {
		t.Run(tt.name+", then a full replay", func(t *testing.T) {
			dataset := strings.ReplaceAll(tt.name, " ", "-")
			rows := helperRows(dataset)
			stop := make(chan struct{})
			watch := connect(t, dsn)
			go func() {
				defer close(stop)
				for n := int64(0); n < 1000; time.Sleep(time.Millisecond) {
					if watch.QueryRow(ctx, `SELECT count(*) FROM embeddings WHERE dataset = $1`, dataset).Scan(&n) != nil {
						return
					}
				}
			}()
			tt.run(t, dataset, rows, stop)
			partial := queryOne[int64](t, dsn, `SELECT count(*) FROM embeddings WHERE dataset = $1`, dataset)
			t.Logf("%d of %d rows stored when the writer stopped", partial, len(rows))
			if partial%500 != 0 || partial >= int64(len(rows)) {
				t.Errorf("%d rows stored: want whole batches of 500, fewer than %d", partial, len(rows))
			}
			if err := open(t, Config{DSN: dsn, BatchRows: 700}).Write(ctx, rows); err != nil {
				t.Fatal(err)
			}
			got := readBack(t, dsn, "WHERE dataset = $1", dataset)
			if len(got) != len(rows) || checksum(got) != checksum(rows) {
				t.Fatalf("after the replay %d rows, checksum %x; want %d, %x", len(got), checksum(got), len(rows), checksum(rows))
			}
		})
	}

	t.Run("nearest neighbours match retrieval.Search", func(t *testing.T) {
		const nq, nc, dim, k = 40, 600, 48, 10
		rows := makeRows(3, "run1", "nn", nq, nc, dim)
		w := open(t, Config{DSN: dsn})
		if err := w.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
		// retrieval.Search breaks ties by candidate index: hold candidates in item-id order, as the SQL does.
		cands := slices.Clone(rows[nq:])
		slices.SortFunc(cands, func(a, b sinks.EmbeddingRow) int { return strings.Compare(a.ItemID, b.ItemID) })
		var qv, cv []float32
		for _, r := range rows[:nq] {
			qv = append(qv, r.Vector...)
		}
		for _, r := range cands {
			cv = append(cv, r.Vector...)
		}
		res, err := retrieval.Search(ctx, qv, cv, dim, k, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		sql := docQuery(t)
		conn := connect(t, dsn)
		for qi := 0; qi < nq; qi += 4 { // a sample of the queries
			rs, err := conn.Query(ctx, sql, "m1", "nn", rows[qi].ItemID)
			if err != nil {
				t.Fatal(err)
			}
			type hit struct {
				id, lang string
				score    float64
			}
			got, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) (hit, error) {
				var h hit
				return h, r.Scan(&h.id, &h.lang, &h.score)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != k {
				t.Fatalf("query %s: SQL returned %d rows, want %d", rows[qi].ItemID, len(got), k)
			}
			for i, h := range res[qi].Top {
				want := cands[h.Index]
				if got[i].id != want.ItemID || got[i].lang != want.Lang || !(math.Abs(got[i].score-float64(h.Score)) <= 1e-5) {
					t.Errorf("query %s rank %d: SQL %s %s %.7f, retrieval.Search %s %s %.7f",
						rows[qi].ItemID, i+1, got[i].id, got[i].lang, got[i].score, want.ItemID, want.Lang, h.Score)
				}
			}
		}
	})

	t.Run("bad rows are refused before any is written", func(t *testing.T) {
		w := open(t, Config{DSN: dsn})
		good := makeRows(4, "run1", "bad", 1, 1, 4)
		nan, kind, noModel := good[1], good[1], good[1]
		nan.Vector = []float32{0, float32(math.NaN()), 0, 0}
		kind.Kind = "passage"
		noModel.Model = ""
		for _, tt := range []struct {
			row  sinks.EmbeddingRow
			want string
		}{
			{nan, `row 1 (item "am/c/00000"): vector[1] = NaN, not finite`},
			{kind, `row 1 (item "am/c/00000"): kind "passage": want query or candidate`},
			{noModel, `row 1 (item "am/c/00000"): empty model, dataset or lang`},
		} {
			err := w.Write(ctx, []sinks.EmbeddingRow{good[0], tt.row})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write: %v, want an error with %q", err, tt.want)
			}
		}
		if n := queryOne[int64](t, dsn, `SELECT count(*) FROM embeddings WHERE dataset = 'bad'`); n != 0 {
			t.Errorf("%d rows written from refused writes", n)
		}
	})
}

// helperEnv names the DSN a TestHelperWriter process writes to.
const helperEnv = "XLING_PGSTORE_HELPER_DSN"

// helperRows are enough rows (80 batches of 500) that a writer is still busy when it is stopped.
func helperRows(dataset string) []sinks.EmbeddingRow {
	return makeRows(2, "run1", dataset, 50, 39950, 64)
}

// TestHelperWriter is the worker process that TestStore kills; it does nothing in a normal run.
func TestHelperWriter(t *testing.T) {
	dsn := os.Getenv(helperEnv)
	if dsn == "" {
		return
	}
	ctx := context.Background()
	w, err := Open(ctx, Config{DSN: dsn, BatchRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, helperRows(os.Getenv(helperEnv+"_DATASET"))); err != nil {
		t.Fatal(err)
	}
}

// docQuery is the first SQL block of docs/store.md, so the documented query is the tested one.
func docQuery(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "docs", "store.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```sql\n")
	sql, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/store.md has no ```sql block")
	}
	return sql
}

func TestServerDown(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	log, records := testenv.Logger(t)
	const retryFor, base, maxDelay = 1500 * time.Millisecond, 40 * time.Millisecond, 300 * time.Millisecond
	w := open(t, Config{DSN: pg.DSN(), RetryFor: retryFor, RetryBase: base, RetryMax: maxDelay, Seed: 7, Log: log})
	rows := makeRows(5, "run1", "down", 10, 90, 16)
	if err := w.Write(ctx, rows[:50]); err != nil {
		t.Fatal(err)
	}

	pg.Stop()
	start := time.Now()
	err := w.Write(ctx, rows[50:])
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "pgstore: write "+pg.Dir()+":5432: server unreachable for 1.5s") {
		t.Fatalf("Write with the server down: %v, want an error naming the host", err)
	}
	if elapsed < retryFor || elapsed > retryFor+10*time.Second {
		t.Errorf("gave up after %v, want a little over %v", elapsed, retryFor)
	}
	if ok, lastErr := w.Healthy(); ok || lastErr == nil {
		t.Errorf("Healthy() = %v, %v with the server down", ok, lastErr)
	}
	// Each wait lies in [c/2, c] for c = min(max, base·2ⁿ); the last may be cut short by the deadline.
	var delays []time.Duration
	for _, r := range records() {
		if r["msg"] == "postgres unreachable, retrying" {
			delays = append(delays, time.Duration(r["delay"].(float64)))
		}
	}
	if len(delays) < 4 {
		t.Fatalf("%d retries logged, want at least 4: %v", len(delays), delays)
	}
	for n, d := range delays {
		c := min(maxDelay, base<<n)
		if d > c || (n < len(delays)-1 && d < c/2) {
			t.Errorf("retry %d waited %v, want within [%v, %v]", n+1, d, c/2, c)
		}
	}
	t.Logf("gave up after %v and %d retries, waits %v", elapsed, len(delays), delays)

	// The server comes back while a write is retrying: the write completes.
	pg.Start()
	w2 := open(t, Config{DSN: pg.DSN(), RetryFor: time.Minute, RetryBase: base, RetryMax: maxDelay})
	pg.Stop()
	done := make(chan error, 1)
	go func() { done <- w2.Write(ctx, rows[50:]) }()
	time.Sleep(500 * time.Millisecond)
	pg.Start()
	if err := <-done; err != nil {
		t.Fatalf("Write across a restart: %v", err)
	}
	if ok, err := w2.Healthy(); !ok || err != nil {
		t.Errorf("Healthy() = %v, %v after the server came back", ok, err)
	}
	got := readBack(t, pg.DSN(), "WHERE dataset = 'down'")
	if len(got) != len(rows) || checksum(got) != checksum(rows) {
		t.Fatalf("%d rows, checksum %x; want %d, %x", len(got), checksum(got), len(rows), checksum(rows))
	}

	pg.Stop()
	_, err = Open(ctx, Config{DSN: pg.DSN(), RetryFor: 200 * time.Millisecond, RetryBase: base, RetryMax: maxDelay})
	if err == nil || !strings.Contains(err.Error(), "pgstore: connect "+pg.Dir()+":5432: server unreachable") {
		t.Errorf("Open with the server down: %v, want an error naming the host", err)
	}
}

// BenchmarkWrite upserts 8192 rows of 384 floats (a MiniLM-sized embedding) per op into a fresh dataset.
func BenchmarkWrite(b *testing.B) {
	pg := pgtest.Start(b)
	ctx := context.Background()
	w, err := Open(ctx, Config{DSN: pg.DSN()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	rows := makeRows(9, "run1", "bench", 0, 8192, 384)
	b.SetBytes(int64(len(rows) * 384 * 4))
	n := 0
	for b.Loop() {
		n++
		for i := range rows {
			rows[i].Dataset = fmt.Sprintf("bench-%d", n)
		}
		if err := w.Write(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*len(rows))/b.Elapsed().Seconds(), "rows/s")
}
