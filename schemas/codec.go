// Package schemas defines the versioned Arrow schemas of the messages on xling's topics and their codec:
// one Arrow record batch per Kafka message, in the Arrow IPC stream format, with the schema id in the
// message header HeaderSchema.
//
// A schema is a list of columns, each knowing how to put a field of a Go row into an Arrow builder and get it
// back, so every schema shares one encoder and one decoder. Changing a schema's columns means a new id (v2);
// a consumer rejects a message whose id or columns it does not know, and the stage dead-letters it.
package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"unique"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// HeaderSchema is the Kafka header that names a message's schema id.
const HeaderSchema = "xling-schema"

// Column maps one Arrow field to a field of row type T.
type Column[T any] struct {
	Field arrow.Field
	// put appends the column's field of every row to b; mem is where any builder of its own allocates.
	put func(mem memory.Allocator, b array.Builder, rows []T)
	// reader casts a to the column's array type once, and returns what sets a row's field from row i.
	reader func(a arrow.Array) func(i int, row *T) error
}

// Schema is a versioned, named list of columns for rows of type T.
type Schema[T any] struct {
	ID      string
	Columns []Column[T]
	arrow   *arrow.Schema
	head    []byte // the IPC schema message every stream Encode writes opens with
}

// NewSchema builds a schema; the Arrow schema carries the id in its metadata too, so a Parquet or IPC file
// written from these batches says what it holds.
func NewSchema[T any](id string, cols ...Column[T]) *Schema[T] {
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.Field
	}
	md := arrow.NewMetadata([]string{"xling.schema"}, []string{id})
	s := &Schema[T]{ID: id, Columns: cols, arrow: arrow.NewSchema(fields, &md)}
	// An empty stream is the schema message and the 8-byte end-of-stream marker.
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s.arrow))
	if err := w.Close(); err != nil || buf.Len() < 8 {
		panic(fmt.Sprintf("schemas: encode the schema message of %s: %v", id, err)) // a bug in a schema literal
	}
	s.head = buf.Bytes()[:buf.Len()-8]
	return s
}

// Arrow returns the Arrow schema.
func (s *Schema[T]) Arrow() *arrow.Schema { return s.arrow }

// Option changes how Encode and Decode work.
type Option func(*options)

type options struct {
	mem memory.Allocator
}

// WithAllocator makes Encode and Decode take their Arrow buffers from mem; nil, or no option, means
// memory.DefaultAllocator. Both give back everything they took before they return (the rows Decode
// returns are Go memory, copied out of the batch), so a memory.CheckedAllocator is at zero between calls.
func WithAllocator(mem memory.Allocator) Option {
	return func(o *options) { o.mem = mem }
}

func optionsOf(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.mem == nil {
		o.mem = memory.DefaultAllocator
	}
	return o
}

// Encode writes rows as one record batch in an Arrow IPC stream.
func (s *Schema[T]) Encode(rows []T, opts ...Option) ([]byte, error) {
	mem := optionsOf(opts).mem
	b := array.NewRecordBuilder(mem, s.arrow)
	defer b.Release()
	b.Reserve(len(rows))
	for c, col := range s.Columns {
		col.put(mem, b.Field(c), rows)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s.arrow), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		w.Close() // releases what the writer holds; the write's error is the one to report
		return nil, fmt.Errorf("encode %s: %w", s.ID, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", s.ID, err)
	}
	return buf.Bytes(), nil
}

// ErrSchema reports a message whose schema does not match what the consumer expects.
var ErrSchema = errors.New("schema mismatch")

// Decode reads every record batch of an Arrow IPC stream into rows, checking the columns against s.
func (s *Schema[T]) Decode(data []byte, opts ...Option) (rows []T, err error) {
	// Messages come from outside the process: a corrupt IPC stream must become an error, never a crash.
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("decode %s: corrupt message: %v", s.ID, p)
		}
	}()
	// arrow-go trusts the lengths a schema message declares (one of 1.5 KB asked for 183 GB, and the
	// process died, which recover cannot stop), so the stream must open with this schema's own message;
	// and no message body can be longer than the data.
	if !bytes.HasPrefix(data, s.head) {
		return nil, fmt.Errorf("decode %s: %w: the stream does not open with this schema's message", s.ID, ErrSchema)
	}
	// Nor may decoding allocate much more than the message holds: a compressed buffer declares its own
	// uncompressed size, and arrow-go allocates it before reading a byte (xling never compresses).
	if err := checkMessages(data); err != nil {
		return nil, fmt.Errorf("decode %s: %w", s.ID, err)
	}
	mem := &budget{mem: optionsOf(opts).mem, left: 2*len(data) + 64<<10, out: map[*byte][]byte{}}
	// Runs after r.Release: what is still out then was leaked by arrow-go (see budget).
	defer mem.freeAll()
	// The limits go to the message reader: ipc.NewReader (arrow-go v18.8) drops them, and a message
	// declaring 2 GB of metadata then has 2 GB made and zeroed outside the budget, seconds a message.
	limits := []ipc.Option{ipc.WithAllocator(mem), ipc.WithBodySizeLimit(int64(len(data))), ipc.WithMetadataSizeLimit(int64(len(data)))}
	r, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(bytes.NewReader(data), limits...), limits...)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", s.ID, err)
	}
	defer r.Release()
	if err := s.check(r.Schema()); err != nil {
		return nil, err
	}
	for r.Next() {
		rec := r.RecordBatch()
		n := int(rec.NumRows())
		// A row takes at least a byte of its first column, so a batch declaring more rows than the message
		// has bytes lies, and believing it would allocate rows for the lie.
		if n < 0 || n > len(data) {
			return nil, fmt.Errorf("decode %s: corrupt message: a record batch of %d rows in %d bytes", s.ID, n, len(data))
		}
		start := len(rows)
		rows = append(rows, make([]T, n)...)
		for c, col := range s.Columns {
			get := col.reader(rec.Column(c))
			for i := 0; i < n; i++ {
				if err := get(i, &rows[start+i]); err != nil {
					return nil, fmt.Errorf("decode %s: row %d column %s: %w", s.ID, start+i, col.Field.Name, err)
				}
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", s.ID, err)
	}
	return rows, nil
}

// budget is the allocator of one Decode. It hands out at most left bytes at once; past that it panics,
// which Decode recovers into an error (the Go runtime's own out-of-memory cannot be recovered). And it
// keeps what it has handed out, because arrow-go's reader, when a corrupt record batch makes it panic
// half-built, recovers but never releases the message body the built part holds: Decode copies every row
// out, so once the reader is released whatever is still out is garbage, and freeAll gives it back.
type budget struct {
	mem  memory.Allocator
	left int
	out  map[*byte][]byte // by first byte; empty buffers are not kept
}

var errBudget = errors.New("allocation past the message's budget")

func (b *budget) take(n int) {
	if n < 0 || n > b.left {
		panic(errBudget)
	}
	b.left -= n
}

func (b *budget) keep(p []byte) []byte {
	if len(p) > 0 {
		b.out[&p[0]] = p
	}
	return p
}

func (b *budget) forget(p []byte) {
	if len(p) > 0 {
		delete(b.out, &p[0])
	}
}

func (b *budget) Allocate(n int) []byte {
	b.take(n)
	return b.keep(b.mem.Allocate(n))
}

func (b *budget) Reallocate(n int, old []byte) []byte {
	if n < 0 {
		// A length read from a hostile message can reach here negative; the allocator beneath must not
		// see it (a CheckedAllocator's books went negative, then Go's slicing panicked).
		panic(errBudget)
	}
	if grow := n - len(old); grow > 0 {
		b.take(grow)
	} else {
		b.left -= grow
	}
	b.forget(old)
	return b.keep(b.mem.Reallocate(n, old))
}

func (b *budget) Free(p []byte) {
	b.left += len(p)
	b.forget(p)
	b.mem.Free(p)
}

// freeAll gives back every buffer still out.
func (b *budget) freeAll() {
	for _, p := range b.out {
		b.Free(p)
	}
}

func (s *Schema[T]) check(got *arrow.Schema) error {
	if got.NumFields() != len(s.Columns) {
		return fmt.Errorf("decode %s: %w: %d columns, want %d", s.ID, ErrSchema, got.NumFields(), len(s.Columns))
	}
	for i, f := range got.Fields() {
		want := s.Columns[i].Field
		if f.Name != want.Name || !arrow.TypeEqual(f.Type, want.Type) {
			return fmt.Errorf("decode %s: %w: column %d is %s %s, want %s %s", s.ID, ErrSchema, i, f.Name, f.Type, want.Name, want.Type)
		}
	}
	return nil
}

// Column constructors for the field types xling's schemas use.

// Decoded strings are copies. arrow-go's String.Value points into the message it was read from, so one
// row kept (a scorer's candidate id, a metric row for the report) would keep the whole message alive.
// A label is interned instead (unique.Make copies a string the first time it sees it): few values, many
// rows.

// String is a non-null UTF-8 column (of a string or of a domain word such as domain.Kind).
func String[T any, S ~string](name string, field func(*T) *S) Column[T] {
	return Column[T]{
		Field: arrow.Field{Name: name, Type: arrow.BinaryTypes.String},
		put: func(mem memory.Allocator, b array.Builder, rows []T) {
			sb := b.(*array.StringBuilder)
			for i := range rows {
				sb.Append(string(*field(&rows[i])))
			}
		},
		reader: func(a arrow.Array) func(int, *T) error {
			s := a.(*array.String)
			return func(i int, row *T) error {
				*field(row) = S(strings.Clone(s.Value(i)))
				return nil
			}
		},
	}
}

// maxLabels is how many distinct values a label column may hold in one batch: its indexes are int16.
const maxLabels = math.MaxInt16

// Label is a UTF-8 column of few distinct values (a dataset, model, setting or language), dictionary
// encoded: each row carries a small index instead of the string. At most maxLabels distinct values a
// batch. Both ways go through the distinct values only: a batch's rows are numbered by a map of them, and
// its dictionary is interned once.
func Label[T any, S ~string](name string, field func(*T) *S) Column[T] {
	return Column[T]{
		Field: arrow.Field{Name: name, Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}},
		put: func(mem memory.Allocator, b array.Builder, rows []T) {
			number := map[S]int{}
			var values []string
			indices := make([]int, len(rows))
			for i := range rows {
				v := *field(&rows[i])
				k, ok := number[v]
				if !ok {
					k = len(values)
					number[v] = k
					values = append(values, string(v))
				}
				indices[i] = k
			}
			if len(values) > maxLabels {
				// The schema's few-values contract rules this out: a bug, not bad data.
				panic(fmt.Sprintf("label column %s: %d distinct values in a batch, at most %d", name, len(values), maxLabels))
			}
			// A builder of its own per Encode, so the dictionary numbers its values in insertion order.
			sb := array.NewStringBuilder(mem)
			defer sb.Release()
			sb.AppendValues(values, nil)
			dict := sb.NewStringArray()
			defer dict.Release()
			db := b.(*array.BinaryDictionaryBuilder)
			if err := db.InsertStringDictValues(dict); err != nil {
				panic(fmt.Sprintf("label column %s: %v", name, err))
			}
			db.AppendIndices(indices, nil)
		},
		reader: func(a arrow.Array) func(int, *T) error {
			d := a.(*array.Dictionary)
			dict := d.Dictionary().(*array.String)
			values := make([]S, dict.Len())
			for j := range values {
				values[j] = S(unique.Make(dict.Value(j)).Value())
			}
			return func(i int, row *T) error {
				k := d.GetValueIndex(i)
				if k < 0 || k >= len(values) {
					return fmt.Errorf("dictionary index %d outside its %d values", k, len(values))
				}
				*field(row) = values[k]
				return nil
			}
		},
	}
}

// Strings is a list<utf8> column.
func Strings[T any](name string, field func(*T) *[]string) Column[T] {
	return Column[T]{
		Field: arrow.Field{Name: name, Type: arrow.ListOf(arrow.BinaryTypes.String)},
		put: func(mem memory.Allocator, b array.Builder, rows []T) {
			lb := b.(*array.ListBuilder)
			vb := lb.ValueBuilder().(*array.StringBuilder)
			for i := range rows {
				lb.Append(true)
				for _, v := range *field(&rows[i]) {
					vb.Append(v)
				}
			}
		},
		reader: func(a arrow.Array) func(int, *T) error {
			l := a.(*array.List)
			vals := l.ListValues().(*array.String)
			return func(i int, row *T) error {
				start, end, err := listSpan(l, i, vals.Len())
				if err != nil {
					return err
				}
				if end == start {
					*field(row) = nil
					return nil
				}
				out := make([]string, 0, end-start)
				for j := start; j < end; j++ {
					out = append(out, strings.Clone(vals.Value(int(j))))
				}
				*field(row) = out
				return nil
			}
		},
	}
}

// listSpan is where list i's values lie, checked against the n values there are: the offsets come from
// the message, and a list of a billion strings would be allocated before its first one was read.
func listSpan(l *array.List, i, n int) (start, end int64, err error) {
	start, end = l.ValueOffsets(i)
	if start < 0 || end < start || end > int64(n) {
		return 0, 0, fmt.Errorf("corrupt list offsets [%d, %d) over %d values", start, end, n)
	}
	return start, end, nil
}

// Int64s is a list<int64> column.
func Int64s[T any](name string, field func(*T) *[]int64) Column[T] {
	return numbers(name, arrow.PrimitiveTypes.Int64, field,
		func(b array.Builder) func([]int64) {
			ib := b.(*array.Int64Builder)
			return func(v []int64) { ib.AppendValues(v, nil) }
		},
		func(a arrow.Array) []int64 { return a.(*array.Int64).Int64Values() })
}

// Float32s is a list<float32> column.
func Float32s[T any](name string, field func(*T) *[]float32) Column[T] {
	return numbers(name, arrow.PrimitiveTypes.Float32, field,
		func(b array.Builder) func([]float32) {
			fb := b.(*array.Float32Builder)
			return func(v []float32) { fb.AppendValues(v, nil) }
		},
		func(a arrow.Array) []float32 { return a.(*array.Float32).Float32Values() })
}

// numbers is a list column of a number type: appender casts the value builder to append a row's
// numbers, values the list's values to a slice.
func numbers[T any, N int64 | float32](name string, typ arrow.DataType, field func(*T) *[]N,
	appender func(array.Builder) func([]N), values func(arrow.Array) []N) Column[T] {
	return Column[T]{
		Field: arrow.Field{Name: name, Type: arrow.ListOf(typ)},
		put: func(mem memory.Allocator, b array.Builder, rows []T) {
			lb := b.(*array.ListBuilder)
			add := appender(lb.ValueBuilder())
			for i := range rows {
				lb.Append(true)
				add(*field(&rows[i]))
			}
		},
		reader: func(a arrow.Array) func(int, *T) error {
			l := a.(*array.List)
			all := values(l.ListValues())
			return func(i int, row *T) error {
				start, end, err := listSpan(l, i, len(all))
				if err != nil {
					return err
				}
				*field(row) = append([]N(nil), all[start:end]...)
				return nil
			}
		},
	}
}

// Int64 is a non-null int64 column.
func Int64[T any](name string, field func(*T) *int64) Column[T] {
	return scalar(name, arrow.PrimitiveTypes.Int64, field,
		func(b array.Builder) func(int64) { return b.(*array.Int64Builder).Append },
		func(a arrow.Array) func(int) int64 { return a.(*array.Int64).Value })
}

// Float64 is a non-null float64 column.
func Float64[T any](name string, field func(*T) *float64) Column[T] {
	return scalar(name, arrow.PrimitiveTypes.Float64, field,
		func(b array.Builder) func(float64) { return b.(*array.Float64Builder).Append },
		func(a arrow.Array) func(int) float64 { return a.(*array.Float64).Value })
}

// Bool is a non-null boolean column.
func Bool[T any](name string, field func(*T) *bool) Column[T] {
	return scalar(name, arrow.FixedWidthTypes.Boolean, field,
		func(b array.Builder) func(bool) { return b.(*array.BooleanBuilder).Append },
		func(a arrow.Array) func(int) bool { return a.(*array.Boolean).Value })
}

// scalar is a non-null column of one value a row: appender and value cast the builder and the array once.
func scalar[T, V any](name string, typ arrow.DataType, field func(*T) *V, appender func(array.Builder) func(V), value func(arrow.Array) func(int) V) Column[T] {
	return Column[T]{
		Field: arrow.Field{Name: name, Type: typ},
		put: func(mem memory.Allocator, b array.Builder, rows []T) {
			add := appender(b)
			for i := range rows {
				add(*field(&rows[i]))
			}
		},
		reader: func(a arrow.Array) func(int, *T) error {
			get := value(a)
			return func(i int, row *T) error {
				*field(row) = get(i)
				return nil
			}
		},
	}
}

// Known reports whether id names one of xling's schemas: a message of a known schema on the wrong topic is
// a misconfigured deployment, not a bad message.
func Known(id string) bool {
	switch id {
	case Item.ID, Tokens.ID, Embedding.ID, Markers.ID, Rankings.ID, Metrics.ID, Partials.ID, Groups.ID, Pairs.ID:
		return true
	}
	return false
}
