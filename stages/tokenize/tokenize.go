// Package tokenize is the stage that checks each record against the item schema's rules and turns its text
// into the token ids of the model being evaluated. Records that break a rule go to the dead-letter topic with
// the reason; the rest go on, in order, with their language's markers.
package tokenize

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"xling/domain"
	"xling/pipeline"
	"xling/schemas"
	"xling/tokenizer"
)

// Config is the text policy of the model being evaluated.
type Config struct {
	// MaxTextBytes rejects longer texts (after the prefix and context are added); 0 means 64 KiB.
	MaxTextBytes int
	// WithContext encodes a candidate as its sentence followed by its paragraph (LAReQA's "sentence +
	// context"); otherwise the sentence alone.
	WithContext bool
	// QueryPrefix and PassagePrefix are prepended to queries and candidates ("query: " for e5-class models).
	QueryPrefix, PassagePrefix string
	// Langs, if not empty, restricts the language codes accepted; any valid ISO 639-1 code is otherwise.
	Langs []string
	// KeyByDataset keys the output (records and markers) by dataset instead of dataset/lang, so that one
	// consumer of the tokens topic sees a whole dataset: the lexical scorer, which reads tokens directly.
	KeyByDataset bool
}

// Rule violations, for dead letters.
var (
	ErrMissingID   = errors.New("missing id")
	ErrUnknownLang = errors.New("unknown language code")
	ErrEmptyText   = errors.New("empty text")
	ErrInvalidUTF8 = errors.New("text is not valid UTF-8")
	ErrTooLong     = errors.New("text over the size limit")
	ErrControl     = errors.New("control character in text")
	ErrBadKind     = errors.New("kind is neither query nor candidate")
)

// Text returns the text to encode for a record, or why the record is rejected.
func (c Config) Text(r schemas.Record) (string, error) {
	if r.ID == "" {
		return "", ErrMissingID
	}
	if _, err := domain.ParseLang(r.Lang); err != nil {
		return "", fmt.Errorf("%w %q in %s (not an ISO 639-1 code)", ErrUnknownLang, r.Lang, r.ID)
	}
	if len(c.Langs) > 0 && !slices.Contains(c.Langs, r.Lang) {
		return "", fmt.Errorf("%w %q in %s: the run accepts %v", ErrUnknownLang, r.Lang, r.ID, c.Langs)
	}
	if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Context) {
		return "", fmt.Errorf("%w: %s", ErrInvalidUTF8, r.ID)
	}
	if strings.TrimSpace(r.Text) == "" {
		return "", fmt.Errorf("%w: %s", ErrEmptyText, r.ID)
	}
	for _, t := range []string{r.Text, r.Context} {
		if c, bad := schemas.ControlChar(t); bad {
			return "", fmt.Errorf("%w: %U in %s", ErrControl, c, r.ID)
		}
	}
	var text string
	switch r.Kind {
	case domain.Query:
		text = c.QueryPrefix + r.Text
	case domain.Candidate:
		text = c.PassagePrefix + r.Text
		if c.WithContext && r.Context != "" {
			text += " " + r.Context
		}
	default:
		return "", fmt.Errorf("%w: %q in %s", ErrBadKind, r.Kind, r.ID)
	}
	max := c.MaxTextBytes
	if max <= 0 {
		max = 64 << 10
	}
	if len(text) > max {
		return "", fmt.Errorf("%w: %s has %d bytes, limit %d", ErrTooLong, r.ID, len(text), max)
	}
	return text, nil
}

// Stage returns the tokenize stage: items in, tokens out on the key they came with (or their dataset, with
// KeyByDataset), each language's stream-end markers passed on with this stage's counts.
func Stage(topics pipeline.Topics, tok tokenizer.Tokenizer, cfg Config) *pipeline.Stage[schemas.Record] {
	out := topics.Tokens()
	return &pipeline.Stage[schemas.Record]{
		Name: "tokenize", Input: topics.Items(), Outputs: []string{out.Name},
		Process: func(ctx context.Context, key string, rows []schemas.Record, o *pipeline.Output) error {
			kept := rows[:0]
			for i, r := range rows {
				text, err := cfg.Text(r)
				if err == nil {
					r.TokenIDs, r.TypeIDs, r.Truncated, err = tok.Encode(text)
				}
				if err != nil {
					o.Reject(i, r, err)
					continue
				}
				if r.Truncated {
					o.Truncate(1)
				}
				r.Text, r.Context = "", ""
				kept = append(kept, r)
			}
			if !cfg.KeyByDataset {
				return pipeline.Emit(o, out, key, kept...)
			}
			for len(kept) > 0 { // each run of one dataset on its key
				n := 1
				for n < len(kept) && kept[n].Dataset == kept[0].Dataset {
					n++
				}
				if err := pipeline.Emit(o, out, kept[0].Dataset, kept[:n]...); err != nil {
					return err
				}
				kept = kept[n:]
			}
			return nil
		},
		End: func(_ context.Context, key string, m schemas.Marker, o *pipeline.Output) error {
			if cfg.KeyByDataset {
				key = m.Dataset
			}
			o.EndStream(out.Name, key, m)
			return nil
		},
	}
}
