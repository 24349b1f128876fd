package hf

import (
	"encoding/json"
	"fmt"
)

// template is a post-processor for single texts: ids of special tokens around the sequence.
type template struct {
	before, after         []int64
	beforeType, afterType []int64
	seqType               int64
}

func (t *template) added() int { return len(t.before) + len(t.after) }

func (t *template) apply(ids []int64) (out, types []int64) {
	out = make([]int64, 0, len(ids)+t.added())
	out = append(append(append(out, t.before...), ids...), t.after...)
	types = make([]int64, 0, len(out))
	types = append(types, t.beforeType...)
	for range ids {
		types = append(types, t.seqType)
	}
	types = append(types, t.afterType...)
	return out, types
}

type postJSON struct {
	Type       string            `json:"type"`
	Processors []json.RawMessage `json:"processors"`
	Single     []struct {
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int64  `json:"type_id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int64  `json:"type_id"`
		} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
	Sep *[2]json.RawMessage `json:"sep"`
	Cls *[2]json.RawMessage `json:"cls"`
}

func parsePostProcessor(raw json.RawMessage, m model) (*template, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var j postJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("post_processor: %w", err)
	}
	switch j.Type {
	case "ByteLevel": // offsets only
		return nil, nil
	case "Sequence":
		var out *template
		for _, p := range j.Processors {
			t, err := parsePostProcessor(p, m)
			if err != nil {
				return nil, err
			}
			if t != nil {
				if out != nil {
					return nil, fmt.Errorf("post_processor Sequence: more than one processor adds tokens")
				}
				out = t
			}
		}
		return out, nil
	case "TemplateProcessing":
		t := &template{}
		seen := false
		for _, p := range j.Single {
			switch {
			case p.Sequence != nil:
				seen = true
				t.seqType = p.Sequence.TypeID
			case p.SpecialToken != nil:
				st, ok := j.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("post_processor TemplateProcessing: special token %q is not defined", p.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if seen {
						t.after = append(t.after, id)
						t.afterType = append(t.afterType, p.SpecialToken.TypeID)
					} else {
						t.before = append(t.before, id)
						t.beforeType = append(t.beforeType, p.SpecialToken.TypeID)
					}
				}
			}
		}
		return t, nil
	case "RobertaProcessing", "BertProcessing":
		if j.Cls == nil || j.Sep == nil {
			return nil, fmt.Errorf("post_processor %s: cls and sep are required", j.Type)
		}
		var cls, sep int64
		if err := json.Unmarshal(j.Cls[1], &cls); err != nil {
			return nil, fmt.Errorf("post_processor %s cls: %w", j.Type, err)
		}
		if err := json.Unmarshal(j.Sep[1], &sep); err != nil {
			return nil, fmt.Errorf("post_processor %s sep: %w", j.Type, err)
		}
		return &template{before: []int64{cls}, after: []int64{sep}, beforeType: []int64{0}, afterType: []int64{0}}, nil
	}
	return nil, &unsupportedError{"post_processor", j.Type}
}
