// Package dataset reads the retrieval datasets (LAReQA's XQuAD-R and MLQA-R, raw SQuAD-format XQuAD) into
// queries and candidates, and downloads them for users who do not have a local copy.
package dataset

import (
	"xling/domain"
	"xling/schemas"
)

// Kind says whether an item is asked (a query) or retrieved (a candidate sentence): domain.Kind.
type Kind = domain.Kind

const (
	Query     = domain.Query
	Candidate = domain.Candidate
)

// Item is one query or one candidate sentence of one language of one dataset: the record that travels
// down the pipeline (schemas.Record), as a reader fills it — Dataset, Lang (any ISO 639-1 code whose file
// is present), Kind, ID, QID, Text, Context, QIDs; the stages fill the rest.
//
// ID is unique within Dataset: "<lang>/q/<qid>" for queries, "<lang>/c/<article>.<paragraph>.<sentence>"
// (zero-based indexes in file order) for candidates. Relevance judgements travel on the candidate (QIDs): a
// candidate is relevant to every query, in any language, whose QID it lists. Question ids are shared by
// parallel questions across languages, so the multilingual relevant set of a query is every candidate, in
// every language, that lists its QID.
type Item = schemas.Record
