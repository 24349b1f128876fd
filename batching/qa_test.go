package batching

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"xling/dataset"
	"xling/dataset/datasettest"
	"xling/internal/testenv"
)

func query(lang, qid, text string) dataset.Item {
	return dataset.Item{Dataset: "mlqa-r", Lang: lang, Kind: dataset.Query, ID: lang + "/q/" + qid, QID: qid, Text: text}
}

func cand(lang, id, text, context string, qids ...string) dataset.Item {
	return dataset.Item{Dataset: "mlqa-r", Lang: lang, Kind: dataset.Candidate, ID: lang + "/c/" + id, Text: text, Context: context, QIDs: qids}
}

func TestQAGroups(t *testing.T) {
	items := []dataset.Item{
		query("en", "q1", "Who?"), query("de", "q1", "Wer?"), query("es", "q1", "¿Quién?"),
		query("en", "q2", "When?"),
		query("en", "q3", "Where?"), query("zh", "q3", "哪里?"),
		cand("en", "0.0.0", "Ann did.", "Ann did. Then.", "q1", "q2"),
		cand("en", "0.0.1", "Ann again.", "Ann again.", "q1"), // a second answer to q1 in en: the first stays
		cand("de", "0.0.0", "Ann tat es.", "Ann tat es.", "q1", "q2"),
		cand("en", "1.0.0", "Here.", "Here. Now.", "q3"),
		cand("zh", "1.0.0", "这里。", "这里。", "q3"),
		cand("ar", "9.0.0", "orphan", "orphan", "q9"),
	}
	tests := []struct {
		name string
		opt  QAOptions
		want []Group
		st   QAStats
	}{
		{
			name: "sentence passages",
			want: []Group{
				{ID: "q1", Source: "mlqa-r", Texts: []Text{{"de", "Wer?", "Ann tat es."}, {"en", "Who?", "Ann did."}}},
				{ID: "q3", Source: "mlqa-r", Texts: []Text{{"en", "Where?", "Here."}, {"zh", "哪里?", "这里。"}}},
			},
			// unpaired: es question of q1, de answer of q2, ar answer of q9; q2 has en only.
			st: QAStats{Groups: 2, Unpaired: 3, ExtraAnswers: 1, Dropped: 1},
		},
		{
			name: "passages with context, zh held out",
			opt:  QAOptions{WithContext: true, Holdout: []string{"zh"}},
			want: []Group{
				{ID: "q1", Source: "mlqa-r", Texts: []Text{{"de", "Wer?", "Ann tat es.\nAnn tat es."}, {"en", "Who?", "Ann did.\nAnn did. Then."}}},
			},
			st: QAStats{Groups: 1, Unpaired: 3, ExtraAnswers: 1, Dropped: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs, st, err := QAGroups(items, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gs, tt.want) || st != tt.st {
				t.Errorf("got %+v, %+v\nwant %+v, %+v", gs, st, tt.want, tt.st)
			}
		})
	}
}

func TestQAGroupsRejectsBrokenItems(t *testing.T) {
	tests := []struct {
		name string
		item dataset.Item
		want string
	}{
		{"query without id", query("en", "", "Who?"), "item mlqa-r/en/q/: query without question id"},
		{"question id asked twice", query("en", "q1", "Who else?"), "item mlqa-r/en/q/q1: question id q1 already asked by en/q/q1"},
		{"empty text", cand("en", "0.0.0", "", "ctx", "q1"), "item mlqa-r/en/c/0.0.0: empty language or text"},
		{"unknown kind", dataset.Item{Dataset: "mlqa-r", Lang: "en", Kind: "answer", ID: "x", Text: "t"}, "item mlqa-r/x: unknown kind \"answer\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := QAGroups([]dataset.Item{query("en", "q1", "Who?"), tt.item}, QAOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// The reference builds MLQA-R's groups straight from the JSON: per question id, in each language, the
// question and the published sentence whose break holds answer_start.
func TestQAGroupsOnMLQARMatchPython(t *testing.T) {
	py := testenv.RequirePython(t, "json")
	dir := testenv.DataDir(t)
	script := `
import json, sys
out = {}
for lang in ["ar", "de", "en", "es", "hi", "vi", "zh"]:
    d = json.load(open(sys.argv[1] + "/mlqa-r/" + lang + ".json", encoding="utf-8"))
    for art in d["data"]:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                start = qa["answers"][0]["answer_start"]
                i = [k for k, (b, e) in enumerate(p["sentence_breaks"]) if b <= start < e][0]
                out.setdefault(qa["id"], {})[lang] = [qa["question"], p["sentences"][i]]
json.dump({q: v for q, v in out.items() if len(v) >= 2}, sys.stdout)
`
	raw, err := exec.Command(py, "-c", script, dir).Output()
	if err != nil {
		t.Fatalf("python reference: %v", err)
	}
	var want map[string]map[string][2]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	items := datasettest.Items(t, dir, dataset.MLQAR, nil)
	gs, st, err := QAGroups(items, QAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != len(want) || st.Dropped != 0 {
		t.Fatalf("%d groups (stats %+v), python finds %d question ids in two or more languages", len(gs), st, len(want))
	}
	for _, g := range gs {
		w := want[g.ID]
		if len(g.Texts) != len(w) {
			t.Fatalf("group %s: %d languages, python %d", g.ID, len(g.Texts), len(w))
		}
		for _, tx := range g.Texts {
			if ref := w[tx.Lang]; tx.Query != ref[0] || tx.Passage != ref[1] {
				t.Fatalf("group %s %s: (%q, %q), python (%q, %q)", g.ID, tx.Lang, tx.Query, tx.Passage, ref[0], ref[1])
			}
		}
	}
}
