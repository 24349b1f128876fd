package schemas

// Record is a query or candidate as it moves down the pipeline. Each stage's schema carries the columns that
// stage's consumers need: text out of ingest, token ids out of tokenize, vectors out of encode.
type Record struct {
	Dataset string
	Lang    string
	Kind    string // "query" or "candidate"
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
		String("kind", func(r *Record) *string { return &r.Kind }),
		String("id", func(r *Record) *string { return &r.ID }),
		String("qid", func(r *Record) *string { return &r.QID }),
		Strings("qids", func(r *Record) *[]string { return &r.QIDs }),
	}
}

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
	// RunEnd closes one partition of a topic for a batch run: nothing follows it there.
	RunEnd = "run_end"
)

// Marker is a control record that travels in order with the data on the same key, so every stage learns
// when a language is complete without holding the dataset or trusting wall-clock time.
type Marker struct {
	Kind     string // StreamEnd or RunEnd
	Dataset  string
	Lang     string
	ItemKind string   // "query" or "candidate"
	Count    int64    // records sent on this stream by the stage that wrote the marker
	Langs    []string // every language of the dataset in this run (so score knows when the pool is whole)
}

// Markers is the schema of control messages.
var Markers = NewSchema("xling.marker.v1",
	String("kind", func(m *Marker) *string { return &m.Kind }),
	String("dataset", func(m *Marker) *string { return &m.Dataset }),
	String("lang", func(m *Marker) *string { return &m.Lang }),
	String("item_kind", func(m *Marker) *string { return &m.ItemKind }),
	Int64("count", func(m *Marker) *int64 { return &m.Count }),
	Strings("langs", func(m *Marker) *[]string { return &m.Langs }),
)
