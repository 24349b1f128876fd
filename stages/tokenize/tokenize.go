// Package tokenize is the stage that checks each record against the item schema's rules and turns its text
// into the token ids of the model being evaluated. Records that break a rule go to the dead-letter topic with
// the reason; the rest go on, in order, with their language's markers.
package tokenize

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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
	// Langs is the set of language codes accepted.
	Langs []string
}

// Rule violations, for dead letters.
var (
	ErrMissingID   = errors.New("missing id")
	ErrUnknownLang = errors.New("unknown language code")
	ErrEmptyText   = errors.New("empty text")
	ErrInvalidUTF8 = errors.New("text is not valid UTF-8")
	ErrTooLong     = errors.New("text over the size limit")
	ErrBadKind     = errors.New("kind is neither query nor candidate")
)

// Text returns the text to encode for a record, or why the record is rejected.
func (c Config) Text(r schemas.Record) (string, error) {
	if r.ID == "" {
		return "", ErrMissingID
	}
	known := false
	for _, l := range c.Langs {
		known = known || l == r.Lang
	}
	if !known {
		return "", fmt.Errorf("%w %q in %s", ErrUnknownLang, r.Lang, r.ID)
	}
	if !utf8.ValidString(r.Text) || !utf8.ValidString(r.Context) {
		return "", fmt.Errorf("%w: %s", ErrInvalidUTF8, r.ID)
	}
	if strings.TrimSpace(r.Text) == "" {
		return "", fmt.Errorf("%w: %s", ErrEmptyText, r.ID)
	}
	var text string
	switch r.Kind {
	case "query":
		text = c.QueryPrefix + r.Text
	case "candidate":
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

// Run consumes the items topic and produces the tokens topic until the run ends (or ctx does, when
// untilRunEnd is false).
func Run(ctx context.Context, st *pipeline.Stage, tok tokenizer.Tokenizer, cfg Config, untilRunEnd bool) error {
	streams := pipeline.Streams{}
	out := st.Topics.Tokens()
	err := st.Consume(ctx, st.Topics.Items(), untilRunEnd, func(ctx context.Context, m pipeline.Message) error {
		if m.Markers != nil {
			return streams.Forward(ctx, st, out, string(m.Key), m.Markers)
		}
		rows, ok, err := pipeline.Decode(ctx, st, m, schemas.Item)
		if !ok {
			return err
		}
		kept := rows[:0]
		for i, r := range rows {
			text, err := cfg.Text(r)
			if err == nil {
				r.TokenIDs, r.TypeIDs, r.Truncated, err = tok.Encode(text)
			}
			if err != nil {
				if err := st.DeadLetter(ctx, m, i, r, err); err != nil {
					return err
				}
				continue
			}
			if r.Truncated {
				st.Counts.Truncated.Add(1)
			}
			r.Text, r.Context = "", ""
			kept = append(kept, r)
			streams.Add(r.Dataset, r.Lang, r.Kind, 1)
		}
		if err := pipeline.Send(ctx, st, out, string(m.Key), schemas.Tokens, kept); err != nil {
			return err
		}
		st.Counts.Out.Add(int64(len(kept)))
		return nil
	})
	if err != nil {
		return err
	}
	return st.EndRun(ctx, out)
}
