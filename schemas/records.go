package schemas

import "xling/domain"

// Record is a query or candidate as it moves down the pipeline. Each stage's schema carries the columns that
// stage's consumers need: text out of ingest, token ids out of tokenize, vectors out of encode.
type Record struct {
	Dataset string
	Lang    string
	Kind    domain.Kind
	ID      string
	QID     string   // queries: the parallel question id
	QIDs    []string // candidates: the questions this sentence answers (the relevance judgements)
	Text    string
	Context string

	TokenIDs  []int64
	TypeIDs   []int64
	Truncated bool

	Model  string
	Vector []float32
}

func identity() []Column[Record] {
	return []Column[Record]{
		String("dataset", func(r *Record) *string { return &r.Dataset }),
		String("lang", func(r *Record) *string { return &r.Lang }),
		String("kind", func(r *Record) *domain.Kind { return &r.Kind }),
		String("id", func(r *Record) *string { return &r.ID }),
		String("qid", func(r *Record) *string { return &r.QID }),
		Strings("qids", func(r *Record) *[]string { return &r.QIDs }),
	}
}

// Stream names the stream a record belongs to: one kind of item of one language of one dataset, closed
// by a StreamEnd marker.
type Stream struct {
	Dataset, Lang string
	Kind          domain.Kind
}

// Stream returns the record's stream; RecordID its id within it. Together they let the pipeline count
// each stream's records, once each however often a replay delivers them.
func (r *Record) Stream() Stream { return Stream{r.Dataset, r.Lang, r.Kind} }

// RecordID returns the record's id.
func (r *Record) RecordID() string { return r.ID }

// Item is ingest's output: the text to encode (candidates keep their paragraph for "sentence + context").
var Item = NewSchema("xling.item.v1", append(identity(),
	String("text", func(r *Record) *string { return &r.Text }),
	String("context", func(r *Record) *string { return &r.Context }),
)...)

// Tokens is tokenize's output.
var Tokens = NewSchema("xling.tokens.v1", append(identity(),
	Int64s("token_ids", func(r *Record) *[]int64 { return &r.TokenIDs }),
	Int64s("type_ids", func(r *Record) *[]int64 { return &r.TypeIDs }),
	Bool("truncated", func(r *Record) *bool { return &r.Truncated }),
)...)

// Embedding is encode's output.
var Embedding = NewSchema("xling.embedding.v1", append(identity(),
	String("model", func(r *Record) *string { return &r.Model }),
	Float32s("vector", func(r *Record) *[]float32 { return &r.Vector }),
)...)

// Marker kinds.
const (
	// StreamEnd closes one (dataset, lang, kind) stream: Count records were sent before it on that key.
	StreamEnd = "stream_end"
	// RunEnd says that the upstream partition Part (of Parts) has ended for this run: once a partition
	// has the RunEnd of every upstream partition, nothing more of the run follows on it.
	RunEnd = "run_end"
)

// Marker is a control record that travels in order with the data on the same key, so every stage learns
// when a language is complete without holding the dataset or trusting wall-clock time.
type Marker struct {
	Kind     string // StreamEnd or RunEnd
	Dataset  string
	Lang     string
	ItemKind domain.Kind
	Count    int64    // records sent on this stream by the stage that wrote the marker
	Langs    []string // every language of the dataset in this run (so score knows when the pool is whole)
	Part     int64    // RunEnd: the upstream partition that ended
	Parts    int64    // RunEnd: how many partitions upstream has
}

// Stream returns the stream a StreamEnd marker closes.
func (m Marker) Stream() Stream { return Stream{m.Dataset, m.Lang, m.ItemKind} }

// Markers is the schema of control messages.
var Markers = NewSchema("xling.marker.v2",
	String("kind", func(m *Marker) *string { return &m.Kind }),
	String("dataset", func(m *Marker) *string { return &m.Dataset }),
	String("lang", func(m *Marker) *string { return &m.Lang }),
	String("item_kind", func(m *Marker) *domain.Kind { return &m.ItemKind }),
	Int64("count", func(m *Marker) *int64 { return &m.Count }),
	Strings("langs", func(m *Marker) *[]string { return &m.Langs }),
	Int64("part", func(m *Marker) *int64 { return &m.Part }),
	Int64("parts", func(m *Marker) *int64 { return &m.Parts }),
)
