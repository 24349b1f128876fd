package batching

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"

	"xling/dataset/bitext"
)

// Group is one parallel group: the same example in several languages. Two of its pairs never share a batch,
// since a translation of the positive would be a false negative.
type Group struct {
	ID     string // unique within Source
	Source string
	Texts  []Text // one per language; at least two, so that every group can give a cross-lingual pair
}

// Text is a group's example in one language.
type Text struct {
	Lang    string // ISO 639-1
	Query   string
	Passage string
}

// Source is one stream of groups to train on.
type Source struct {
	Name string
	// Size is the number of groups per epoch, which weighs the source in the mix; 0 means counted by a
	// pass over Groups before sampling.
	Size int
	// Groups is ranged once per epoch (and once more to count it when Size is 0).
	Groups iter.Seq2[Group, error]
}

// SliceSource is a source over groups held in memory, such as QAGroups' result.
func SliceSource(name string, gs []Group) Source {
	return Source{Name: name, Size: len(gs), Groups: func(yield func(Group, error) bool) {
		for _, g := range gs {
			if !yield(g, nil) {
				return
			}
		}
	}}
}

// BitextSource streams an aligned corpus as translation-ranking groups: in every language the query and
// the passage are that language's sentence, so a cross pair asks for a sentence's translation (a mono pair
// asks for the sentence itself).
func BitextSource(ctx context.Context, c bitext.Corpus, opt bitext.Options) Source {
	return Source{Name: c.Name, Groups: func(yield func(Group, error) bool) {
		stop := errors.New("stopped by consumer")
		_, err := c.Read(ctx, opt, func(bg bitext.Group) error {
			g := Group{ID: bg.ID, Source: c.Name, Texts: make([]Text, 0, len(bg.Text))}
			for lang, s := range bg.Text {
				g.Texts = append(g.Texts, Text{Lang: lang, Query: s, Passage: s})
			}
			slices.SortFunc(g.Texts, func(a, b Text) int { return strings.Compare(a.Lang, b.Lang) })
			if !yield(g, nil) {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			yield(Group{}, err)
		}
	}}
}
