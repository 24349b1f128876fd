package schemas

import "xling/domain"

// Ranking is one entry of a query's top-k list in one setting.
type Ranking struct {
	Dataset     string
	Model       string
	Setting     domain.Setting
	QueryID     string
	QueryLang   string
	CandLang    string // domain.Pool for the multilingual pool
	Rank        int64  // 1-based
	CandidateID string
	Score       float64
	Relevant    bool
}

// Rankings is the schema of score's top-k output.
var Rankings = NewSchema("xling.ranking.v2",
	Label("dataset", func(r *Ranking) *string { return &r.Dataset }),
	Label("model", func(r *Ranking) *string { return &r.Model }),
	Label("setting", func(r *Ranking) *domain.Setting { return &r.Setting }),
	String("query_id", func(r *Ranking) *string { return &r.QueryID }),
	Label("query_lang", func(r *Ranking) *string { return &r.QueryLang }),
	Label("cand_lang", func(r *Ranking) *string { return &r.CandLang }),
	Int64("rank", func(r *Ranking) *int64 { return &r.Rank }),
	String("candidate_id", func(r *Ranking) *string { return &r.CandidateID }),
	Float64("score", func(r *Ranking) *float64 { return &r.Score }),
	Bool("relevant", func(r *Ranking) *bool { return &r.Relevant }),
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
