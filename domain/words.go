// Package domain holds xling's vocabulary as types: what kind of item a record is, which setting a
// ranking belongs to, the multilingual pool. Every package that speaks of these uses these words, so a
// misspelt setting is a compile error rather than an empty table.
package domain

// Kind says whether an item asks or answers.
type Kind string

// Item kinds.
const (
	Query     Kind = "query"
	Candidate Kind = "candidate"
)

// Kinds lists the item kinds in the order a language's streams are sent: queries, then candidates.
func Kinds() []Kind { return []Kind{Query, Candidate} }

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == Query || k == Candidate }

// Setting names what a ranking or metric row measures: one language pair, the pool, or a summary.
type Setting string

// Settings of a ranked language pair or the pool.
const (
	Mono  Setting = "mono"  // queries and candidates in the same language
	Cross Setting = "cross" // queries in one language, candidates in another
	Multi Setting = "multi" // queries in one language, candidates from every language (the pool)
)

// Summary settings: means over settings, written once a dataset's pool is complete.
const (
	MonoMean  Setting = "mono_mean"  // Mo.
	CrossMean Setting = "cross_mean" // Cr.
	MultiMean Setting = "multi_mean" // Mul. (and mean rank distance)
	LangCross Setting = "lang_cross" // per language: mean of the cross-lingual settings with it on either side
	DegrMulti Setting = "degr_multi" // per language: 1 - multi(lang)/multi(en)
	DegrCross Setting = "degr_cross" // per language: 1 - lang_cross(lang)/lang_cross(en)
)

// Pool is the candidate language of the multilingual pool (and "every language" in summary rows).
const Pool = "*"

// English is the language degradation is measured from.
const English = "en"

// LowResource lists the languages of XQuAD-R that the question asks about: those with the least
// pretraining and parallel data among its eleven.
func LowResource() []string { return []string{"el", "hi", "th", "tr", "vi"} }
