package dataset_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xling/dataset"
	"xling/internal/testenv"
)

func canonical(items []dataset.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		qids := slices.Clone(it.QIDs)
		slices.Sort(qids)
		out[i] = strings.Join([]string{it.Dataset, it.Lang, string(it.Kind), it.ID, it.QID, strings.Join(qids, ","), it.Text, it.Context}, "\x00")
	}
	slices.Sort(out)
	return out
}

// Every language file of XQuAD-R and MLQA-R, read, written back with WriteLAReQA and read again, gives the
// same items: ids, question ids, relevance, texts and contexts.
func TestWriteLAReQAReadsBackTheSameItems(t *testing.T) {
	data := testenv.DataDir(t)
	for _, name := range []string{dataset.XQuADR, dataset.MLQAR} {
		files, err := dataset.Files(data, name, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			t.Run(name+"/"+f.Lang, func(t *testing.T) {
				want, err := f.Read(dataset.Options{})
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := dataset.WriteLAReQA(&buf, f.Lang, want.Items); err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name, filepath.Base(f.Path)), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				again, err := dataset.Files(dir, name, []string{f.Lang}, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := again[0].Read(dataset.Options{})
				if err != nil {
					t.Fatal(err)
				}
				g, w := canonical(got.Items), canonical(want.Items)
				if len(g) != len(w) {
					t.Fatalf("%d items read back, %d written", len(g), len(w))
				}
				bad := 0
				for i := range g {
					if g[i] != w[i] && bad < 3 {
						bad++
						t.Errorf("item %d:\n got %q\nwant %q", i, g[i], w[i])
					}
				}
			})
		}
	}
}

func TestWriteLAReQARefusesAQueryWithoutAnAnswer(t *testing.T) {
	items := []dataset.Item{
		{Lang: "sw", Kind: dataset.Query, ID: "sw/q/1", QID: "1", Text: "Nani?"},
		{Lang: "sw", Kind: dataset.Candidate, ID: "sw/c/0.0.0", Text: "Juma.", Context: "Juma.", QIDs: []string{"2"}},
	}
	err := dataset.WriteLAReQA(&bytes.Buffer{}, "sw", items)
	if err == nil || !strings.Contains(err.Error(), "sw/q/1") {
		t.Errorf("err = %v, want one naming sw/q/1", err)
	}
}

// Candidates without Read's ids are grouped by context; read back, they keep their texts, contexts and
// relevance under Read's ids (worked by hand: the two paragraphs in order of first id, sentences in id order).
func TestWriteLAReQAGroupsOtherIdsByContext(t *testing.T) {
	ctxA, ctxB := "Juma alikwenda sokoni. Alinunua ndizi.", "Mvua ilinyesha."
	items := []dataset.Item{
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Query, ID: "sw/q/q1", QID: "q1", Text: "Juma alinunua nini?"},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Query, ID: "sw/q/q2", QID: "q2", Text: "Nini kilinyesha?"},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "ext-a1", Text: "Juma alikwenda sokoni.", Context: ctxA},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "ext-a2", Text: "Alinunua ndizi.", Context: ctxA, QIDs: []string{"q1"}},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "ext-b1", Text: "Mvua ilinyesha.", Context: ctxB, QIDs: []string{"q2"}},
	}
	var buf bytes.Buffer
	if err := dataset.WriteLAReQA(&buf, "sw", items); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, dataset.XQuADR), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dataset.XQuADR, "sw.json"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := dataset.Files(dir, dataset.XQuADR, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := files[0].Read(dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.Item{items[0], items[1],
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "sw/c/0.0.0", Text: "Juma alikwenda sokoni.", Context: ctxA},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "sw/c/0.0.1", Text: "Alinunua ndizi.", Context: ctxA, QIDs: []string{"q1"}},
		{Dataset: dataset.XQuADR, Lang: "sw", Kind: dataset.Candidate, ID: "sw/c/0.1.0", Text: "Mvua ilinyesha.", Context: ctxB, QIDs: []string{"q2"}},
	}
	if g, w := canonical(got.Items), canonical(want); !slices.Equal(g, w) {
		t.Errorf("read back\n%q\nwant\n%q", g, w)
	}
}
