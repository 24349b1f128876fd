// Package pgstore upserts embeddings into PostgreSQL, so that other systems can query them in SQL.
//
// One table holds every embedding, keyed by (model, dataset, item_id, lang, kind):
//
//	model text, dataset text, item_id text, lang text, kind text ('query' | 'candidate'),
//	run_id text (the run that wrote the row last), vector real[] (or pgvector's vector), updated_at timestamptz
//
// Rows travel in batches: a binary COPY into a temporary table, then one INSERT ... ON CONFLICT DO UPDATE,
// in one transaction, so a replayed batch (a worker restarted after a crash) leaves the same rows, never
// duplicates. When the server is down, Write retries with capped exponential backoff and jitter, and
// gives up after Config.RetryFor with an error naming the host.
//
// The vector column is real[] unless pgvector is installed in the database (CREATE EXTENSION vector)
// when the table is created; an existing table keeps its type. See docs/store.md for nearest-neighbour
// queries in SQL.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"xling/sinks"
)

// Config says where to store and how hard to try.
//
// Zero fields take the defaults noted on them inside Open, which first calls Validate; Validate changes
// nothing.
type Config struct {
	// DSN is a libpq connection string or postgres:// URL (for example from XLING_PG_DSN). Required. It may
	// hold a password: keep it out of logs.
	DSN string
	// Table is the table name (one identifier, found on the search path), created if missing; "" means
	// "embeddings".
	Table string
	// BatchRows bounds the rows of one COPY and transaction; 0 means 4096.
	BatchRows int
	// RetryFor bounds how long Write and Open keep retrying an unreachable server; 0 means 1 minute.
	RetryFor time.Duration
	// RetryBase and RetryMax shape the backoff: attempt n waits a random time between half and all of
	// min(RetryMax, RetryBase·2ⁿ). 0 means 100 ms and 5 s.
	RetryBase, RetryMax time.Duration
	// AttemptTimeout bounds one connection attempt or one batch, so a server that hangs counts as down;
	// 0 means 30 s.
	AttemptTimeout time.Duration
	// Seed seeds the jitter.
	Seed uint64
	// Log gets a warning per failed attempt; nil: none.
	Log *slog.Logger
}

// Validate reports, naming it, the first field of c that Open cannot use.
func (c Config) Validate() error {
	if c.DSN == "" {
		return errors.New("pgstore config: DSN is empty: want a libpq connection string or postgres:// URL")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"RetryFor", c.RetryFor}, {"RetryBase", c.RetryBase}, {"RetryMax", c.RetryMax}, {"AttemptTimeout", c.AttemptTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("pgstore config: %s is %v, want >= 0 (0 means its default)", d.name, d.v)
		}
	}
	if c.BatchRows < 0 {
		return fmt.Errorf("pgstore config: BatchRows is %d, want >= 0 (0 means 4096)", c.BatchRows)
	}
	return nil
}

// withDefaults fills c's zero fields with their defaults: Open's, after Validate.
func (c Config) withDefaults() Config {
	if c.Table == "" {
		c.Table = "embeddings"
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.RetryFor, time.Minute}, {&c.RetryBase, 100 * time.Millisecond}, {&c.RetryMax, 5 * time.Second}, {&c.AttemptTimeout, 30 * time.Second}} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.BatchRows == 0 {
		c.BatchRows = 4096
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Writer upserts embedding rows into one table over one connection, reconnecting as needed. Write and
// Close are for one goroutine; Healthy may be called from any.
type Writer struct {
	cfg    Config
	conn   *pgx.Conn
	host   string // for errors: host:port or socket directory
	table  string // quoted identifier
	vector bool   // the column is pgvector's vector, not real[]
	rng    *rand.Rand
	closed bool

	mu      sync.Mutex
	healthy bool
	lastErr error
}

// Open connects, retrying an unreachable server for up to cfg.RetryFor, and creates the table if missing.
func Open(ctx context.Context, cfg Config) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pc, err := pgconn.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse DSN: %w", err)
	}
	w := &Writer{
		cfg:   cfg,
		host:  fmt.Sprintf("%s:%d", pc.Host, pc.Port),
		table: pgx.Identifier{cfg.Table}.Sanitize(),
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	if err := w.retry(ctx, "connect", func(context.Context) error { return nil }); err != nil {
		return nil, err
	}
	return w, nil
}

// Vector reports whether the table stores pgvector's vector type rather than real[].
func (w *Writer) Vector() bool { return w.vector }

// Healthy reports whether the last operation reached the server, and the last error if it did not: what
// a /healthz endpoint shows.
func (w *Writer) Healthy() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.healthy, w.lastErr
}

func (w *Writer) setHealth(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.healthy, w.lastErr = err == nil, err
}

// Write validates every row, then upserts them in batches of cfg.BatchRows, each in its own transaction:
// rows of a batch are stored all or none, and a later row with the key of an earlier one wins. On an
// error some earlier batches may be stored; writing the same rows again is safe.
func (w *Writer) Write(ctx context.Context, rows []sinks.EmbeddingRow) error {
	if w.closed {
		return errors.New("pgstore: write after Close")
	}
	for i, r := range rows {
		if err := checkRow(r); err != nil {
			return fmt.Errorf("pgstore: row %d (item %q): %w", i, r.ItemID, err)
		}
	}
	for start := 0; start < len(rows); start += w.cfg.BatchRows {
		batch := rows[start:min(start+w.cfg.BatchRows, len(rows))]
		if err := w.retry(ctx, "write", func(ctx context.Context) error { return w.upsert(ctx, batch) }); err != nil {
			return err
		}
	}
	return nil
}

func checkRow(r sinks.EmbeddingRow) error {
	if err := sinks.Validate(r); err != nil {
		return err
	}
	for _, s := range []string{r.Model, r.Dataset, r.Lang} {
		if s == "" {
			return errors.New("empty model, dataset or lang")
		}
	}
	for d, x := range r.Vector {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("vector[%d] = %v, not finite", d, x)
		}
	}
	return nil
}

// Close closes the connection; the rows written are already committed.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.AttemptTimeout)
	defer cancel()
	return w.conn.Close(ctx)
}

// retry runs op on a live connection, connecting first if there is none. A transient failure (the server
// unreachable, restarting, or the connection lost) drops the connection and tries again after a backoff,
// until cfg.RetryFor has passed since the first failure; any other error returns at once.
func (w *Writer) retry(ctx context.Context, what string, op func(context.Context) error) error {
	var first time.Time
	for attempt := 0; ; attempt++ {
		err := w.attempt(ctx, op)
		w.setHealth(err)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("pgstore: %s %s: %w", what, w.host, ctx.Err())
		}
		if !w.transient(err) {
			return fmt.Errorf("pgstore: %s %s: %w", what, w.host, err)
		}
		w.drop()
		if attempt == 0 {
			first = time.Now()
		}
		left := w.cfg.RetryFor - time.Since(first)
		if left <= 0 {
			return fmt.Errorf("pgstore: %s %s: server unreachable for %v (%d attempts): %w",
				what, w.host, w.cfg.RetryFor, attempt+1, err)
		}
		delay := min(w.backoff(attempt), left)
		w.cfg.Log.Warn("postgres unreachable, retrying", "op", what, "host", w.host, "attempt", attempt+1, "delay", delay, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgstore: %s %s: %w (last error: %v)", what, w.host, ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

// backoff is attempt n's wait: uniform in [c/2, c] for c = min(RetryMax, RetryBase·2ⁿ). Half the wait is
// random so that workers cut off together do not reconnect together.
func (w *Writer) backoff(n int) time.Duration {
	c := w.cfg.RetryMax
	if n < 62 && w.cfg.RetryBase < w.cfg.RetryMax>>n {
		c = w.cfg.RetryBase << n
	}
	return c/2 + time.Duration(w.rng.Int64N(int64(c/2)+1))
}

func (w *Writer) attempt(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	if w.conn == nil {
		if err := w.connect(ctx); err != nil {
			return err
		}
	}
	return op(ctx)
}

// transient reports whether err is worth retrying on a new connection.
func (w *Writer) transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P0x: the server shutting down or starting; 53300: too many
		// connections; 40001/40P01: serialization failure, deadlock.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P0") ||
			pe.Code == "53300" || pe.Code == "40001" || pe.Code == "40P01"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err) || w.conn == nil || w.conn.IsClosed()
}

func (w *Writer) drop() {
	if w.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		w.conn.Close(ctx)
		w.conn = nil
	}
}

// stage is the session's staging table; ord keeps the last of several rows with one key.
const stage = "pgstore_stage"

var stageColumns = []string{"ord", "model", "dataset", "item_id", "lang", "kind", "run_id", "vector"}

// connect opens a connection, makes sure the table exists and creates the session's staging table.
func (w *Writer) connect(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, w.cfg.DSN)
	if err != nil {
		return err
	}
	if err := w.prepare(ctx, conn); err != nil {
		conn.Close(context.Background())
		return err
	}
	w.conn = conn
	return nil
}

func (w *Writer) prepare(ctx context.Context, conn *pgx.Conn) error {
	// An existing table keeps its column type; a new one takes vector when pgvector is installed.
	var colType *string
	if err := conn.QueryRow(ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = 'vector' AND NOT attisdropped`, w.table).Scan(&colType); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up table %s: %w", w.table, err)
	}
	if colType == nil {
		var hasVector bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')`).Scan(&hasVector); err != nil {
			return fmt.Errorf("look up pgvector: %w", err)
		}
		t := "real[]"
		if hasVector {
			t = "vector"
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (
			model text NOT NULL, dataset text NOT NULL, item_id text NOT NULL, lang text NOT NULL,
			kind text NOT NULL CHECK (kind IN ('query', 'candidate')),
			run_id text NOT NULL, vector %s NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (model, dataset, item_id, lang, kind))`, w.table, t)); err != nil {
			return fmt.Errorf("create table %s: %w", w.table, err)
		}
		colType = &t
	}
	w.vector = strings.HasPrefix(*colType, "vector")
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS `+stage+` (ord bigint, model text, dataset text,
		item_id text, lang text, kind text, run_id text, vector real[]) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	return nil
}

// upsert stores one batch in one transaction.
func (w *Writer) upsert(ctx context.Context, rows []sinks.EmbeddingRow) error {
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{int64(i), r.Model, r.Dataset, r.ItemID, r.Lang, r.Kind, r.RunID, r.Vector}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, stageColumns, src); err != nil {
		return fmt.Errorf("copy into %s: %w", stage, err)
	}
	vec := "vector"
	if w.vector {
		vec = "vector::vector"
	}
	// DISTINCT ON keeps the last row of each key: ON CONFLICT may not touch one row twice in a statement.
	// The WHERE leaves rows that a replay would not change alone.
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s AS t (model, dataset, item_id, lang, kind, run_id, vector)
		SELECT DISTINCT ON (model, dataset, item_id, lang, kind) model, dataset, item_id, lang, kind, run_id, %[2]s
		FROM %[3]s ORDER BY model, dataset, item_id, lang, kind, ord DESC
		ON CONFLICT (model, dataset, item_id, lang, kind) DO UPDATE
		SET run_id = EXCLUDED.run_id, vector = EXCLUDED.vector, updated_at = now()
		WHERE t.run_id IS DISTINCT FROM EXCLUDED.run_id OR t.vector IS DISTINCT FROM EXCLUDED.vector`,
		w.table, vec, stage)); err != nil {
		return fmt.Errorf("upsert into %s: %w", w.table, err)
	}
	return tx.Commit(ctx)
}
