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
