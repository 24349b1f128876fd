package schemas

// GroupRow is a parallel training group (batching.Group) flattened for Arrow: the i-th language's query
// and passage are Queries[i] and Passages[i].
type GroupRow struct {
	ID       string
	Source   string
	Langs    []string
	Queries  []string
	Passages []string
}

// Groups is the schema of the training-source topics, the assemble stage's input.
var Groups = NewSchema("xling.group.v1",
	String("id", func(g *GroupRow) *string { return &g.ID }),
	String("source", func(g *GroupRow) *string { return &g.Source }),
	Strings("langs", func(g *GroupRow) *[]string { return &g.Langs }),
	Strings("queries", func(g *GroupRow) *[]string { return &g.Queries }),
	Strings("passages", func(g *GroupRow) *[]string { return &g.Passages }),
)

// PairRow is one (query, passage) pair of one training batch; a message holds one whole batch.
type PairRow struct {
	BatchID  int64
	Position int64  // within the batch, from 0
	Kind     string // "mono" or "cross"
	Source   string
	Group    string
	QLang    string
	PLang    string
	Query    string
	Passage  string
}

// Pairs is the schema of the batches topic, the assemble stage's output and the trainer's input.
var Pairs = NewSchema("xling.pair.v1",
	Int64("batch_id", func(p *PairRow) *int64 { return &p.BatchID }),
	Int64("position", func(p *PairRow) *int64 { return &p.Position }),
	String("kind", func(p *PairRow) *string { return &p.Kind }),
	String("source", func(p *PairRow) *string { return &p.Source }),
	String("group", func(p *PairRow) *string { return &p.Group }),
	String("query_lang", func(p *PairRow) *string { return &p.QLang }),
	String("passage_lang", func(p *PairRow) *string { return &p.PLang }),
	String("query", func(p *PairRow) *string { return &p.Query }),
	String("passage", func(p *PairRow) *string { return &p.Passage }),
)

// Stream returns the group's stream (its source), RecordID its id: publishing counts each group once.
func (g *GroupRow) Stream() Stream { return Stream{Dataset: g.Source} }

// RecordID returns the group's id.
func (g *GroupRow) RecordID() string { return g.ID }
