package schemas

import "xling/domain"

// Ranking is one query's top-k list in one setting: its candidates from rank 1 down. A list travels as one
// row, so what the rows of a list share (labels, the query) crosses the broker once.
type Ranking struct {
	Dataset      string
	Model        string
	Setting      domain.Setting
	QueryID      string
	QueryLang    string
	CandLang     string    // domain.Pool for the multilingual pool
	CandidateIDs []string  // by rank: CandidateIDs[0] ranks first
	Scores       []float32 // Scores[i] is CandidateIDs[i]'s
	Relevant     []int64   // the ranks (from 1) of the relevant candidates in the list, ascending
}

// Rankings is the schema of score's top-k output.
var Rankings = NewSchema("xling.ranking.v3",
	Label("dataset", func(r *Ranking) *string { return &r.Dataset }),
	Label("model", func(r *Ranking) *string { return &r.Model }),
	Label("setting", func(r *Ranking) *domain.Setting { return &r.Setting }),
	String("query_id", func(r *Ranking) *string { return &r.QueryID }),
	Label("query_lang", func(r *Ranking) *string { return &r.QueryLang }),
	Label("cand_lang", func(r *Ranking) *string { return &r.CandLang }),
	Strings("candidate_ids", func(r *Ranking) *[]string { return &r.CandidateIDs }),
	Float32s("scores", func(r *Ranking) *[]float32 { return &r.Scores }),
	Int64s("relevant", func(r *Ranking) *[]int64 { return &r.Relevant }),
)

// Metric is one value of one metric in one setting: a mean over the setting's queries, or, when QueryID
// is set, one query's value (the unit of paired significance tests between models).
type Metric struct {
	Dataset   string
	Model     string
	Setting   domain.Setting
	QueryLang string
	CandLang  string // domain.Pool for the multilingual pool
	QueryID   string // empty for means
	Name      string // "map", "map@20", "mrr@10", ...
	Value     float64
	Queries   int64 // how many queries the value averages
}

// Metrics is the schema of score's per-setting metric output.
var Metrics = NewSchema("xling.metric.v2",
	Label("dataset", func(m *Metric) *string { return &m.Dataset }),
	Label("model", func(m *Metric) *string { return &m.Model }),
	Label("setting", func(m *Metric) *domain.Setting { return &m.Setting }),
	Label("query_lang", func(m *Metric) *string { return &m.QueryLang }),
	Label("cand_lang", func(m *Metric) *string { return &m.CandLang }),
	String("query_id", func(m *Metric) *string { return &m.QueryID }),
	Label("metric", func(m *Metric) *string { return &m.Name }),
	Float64("value", func(m *Metric) *float64 { return &m.Value }),
	Int64("queries", func(m *Metric) *int64 { return &m.Queries }),
)

// Partial events: what a score shard tells the merge, in the order it scored.
const (
	PartialQuery   = "query"   // one query's answer from the shard's candidates in a setting
	PartialSetting = "setting" // the shard has answered every query of the setting
	PartialPool    = "pool"    // the shard has scored the pool of Langs: the dataset's summary follows
)

// Partial is one score shard's answer (score.Config.Shard), for the merge stage to combine with the other
// shards' into the rankings and metrics one scorer would give. Every shard of a dataset emits the same
// events in the same order; Seq numbers them per shard and dataset, so a replayed event is dropped.
type Partial struct {
	Dataset   string
	Model     string
	Event     string // PartialQuery, PartialSetting or PartialPool
	Shard     int64
	Shards    int64
	Seq       int64
	Setting   domain.Setting
	QueryID   string
	QueryLang string
	CandLang  string
	// Candidates is how many of the setting's candidates the shard holds.
	Candidates int64
	// Queries is, on a setting event, how many query events the setting had.
	Queries int64
	// The shard's best min(k, Candidates) candidates, best first, with each one's language (ties between
	// shards break by language, then id, as the whole pool's order does).
	CandidateIDs   []string
	CandidateLangs []string
	Scores         []float32
	Relevant       []int64 // positions (from 1) of the relevant candidates among CandidateIDs
	// Before holds, for each relevant candidate of the query in the setting (in the setting's order), how
	// many of the shard's candidates rank before it.
	Before []int64
	Langs  []string // pool event: the pool's languages
}

// Partials is the schema of the score shards' output (the merge stage's input).
var Partials = NewSchema("xling.partial.v1",
	Label("dataset", func(r *Partial) *string { return &r.Dataset }),
	Label("model", func(r *Partial) *string { return &r.Model }),
	Label("event", func(r *Partial) *string { return &r.Event }),
	Int64("shard", func(r *Partial) *int64 { return &r.Shard }),
	Int64("shards", func(r *Partial) *int64 { return &r.Shards }),
	Int64("seq", func(r *Partial) *int64 { return &r.Seq }),
	Label("setting", func(r *Partial) *domain.Setting { return &r.Setting }),
	String("query_id", func(r *Partial) *string { return &r.QueryID }),
	Label("query_lang", func(r *Partial) *string { return &r.QueryLang }),
	Label("cand_lang", func(r *Partial) *string { return &r.CandLang }),
	Int64("candidates", func(r *Partial) *int64 { return &r.Candidates }),
	Int64("queries", func(r *Partial) *int64 { return &r.Queries }),
	Strings("candidate_ids", func(r *Partial) *[]string { return &r.CandidateIDs }),
	Strings("candidate_langs", func(r *Partial) *[]string { return &r.CandidateLangs }),
	Float32s("scores", func(r *Partial) *[]float32 { return &r.Scores }),
	Int64s("relevant", func(r *Partial) *[]int64 { return &r.Relevant }),
	Int64s("before", func(r *Partial) *[]int64 { return &r.Before }),
	Strings("langs", func(r *Partial) *[]string { return &r.Langs }),
)
