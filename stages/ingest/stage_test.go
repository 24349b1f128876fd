package ingest

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/dataset"
	"xling/domain"
	"xling/internal/testenv"
	"xling/pipeline"
	"xling/pipeline/pipelinetest"
	"xling/schemas"
)

// LAReQA files of one article each. en: "Ab cd. Ef gh." answers q1 in its first sentence and q2 in its
// second; its third question has an empty text (a broken record). de: q1 only, answered in "Ij."
var files = map[string]string{
	"en": `{"data": [{"title": "t", "paragraphs": [{"context": "Ab cd. Ef gh.", "sentence_breaks": [[0, 6], [7, 13]],
	  "sentences": ["Ab cd.", "Ef gh."], "qas": [
	  {"id": "q1", "question": "Q one?", "answers": [{"text": "cd", "answer_start": 3}]},
	  {"id": "q2", "question": "Q two?", "answers": [{"text": "Ef", "answer_start": 7}]},
	  {"id": "q3", "question": " ", "answers": [{"text": "Ef", "answer_start": 7}]}]}]}], "version": "1.1"}`,
	"de": `{"data": [{"title": "t", "paragraphs": [{"context": "Ij. Kl.", "sentence_breaks": [[0, 3], [4, 7]],
	  "sentences": ["Ij.", "Kl."], "qas": [{"id": "q1", "question": "F eins?", "answers": [{"text": "Ij", "answer_start": 0}]}]}]}], "version": "1.1"}`,
}

func writeData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, dataset.XQuADR), 0o755); err != nil {
		t.Fatal(err)
	}
	for lang, body := range files {
		if err := os.WriteFile(filepath.Join(dir, dataset.XQuADR, lang+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestIngestProducesItemsByLanguageWithMarkers(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 2)
	src := pipeline.NewSource("ingest", w)
	cfg := Config{DataDir: writeData(t), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"en", "de"}},
		Read: dataset.Options{Partial: true}, BatchSize: 1}
	sums, err := Run(ctx, src, w.Topics, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	got := pipelinetest.Read(t, m, w.Topics.Items())

	c := "Ab cd. Ef gh."
	want := []schemas.Record{
		{Dataset: "xquad-r", Lang: "en", Kind: domain.Query, ID: "en/q/q1", QID: "q1", Text: "Q one?"},
		{Dataset: "xquad-r", Lang: "en", Kind: domain.Query, ID: "en/q/q2", QID: "q2", Text: "Q two?"},
		{Dataset: "xquad-r", Lang: "en", Kind: domain.Candidate, ID: "en/c/0.0.0", QIDs: []string{"q1"}, Text: "Ab cd.", Context: c},
		{Dataset: "xquad-r", Lang: "en", Kind: domain.Candidate, ID: "en/c/0.0.1", QIDs: []string{"q2"}, Text: "Ef gh.", Context: c},
		{Dataset: "xquad-r", Lang: "de", Kind: domain.Query, ID: "de/q/q1", QID: "q1", Text: "F eins?"},
		{Dataset: "xquad-r", Lang: "de", Kind: domain.Candidate, ID: "de/c/0.0.0", QIDs: []string{"q1"}, Text: "Ij.", Context: "Ij. Kl."},
		{Dataset: "xquad-r", Lang: "de", Kind: domain.Candidate, ID: "de/c/0.0.1", Text: "Kl.", Context: "Ij. Kl."},
	}
	byID := func(a, b schemas.Record) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(want, byID)
	rows := slices.SortedFunc(slices.Values(got.Rows), byID)
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("items\n got %+v\nwant %+v", rows, want)
	}
	// BatchSize 1: one message a record, each on its language's key.
	keys := map[string]int{}
	for _, k := range got.Keys {
		keys[k]++
	}
	if want := map[string]int{"xquad-r/en": 4, "xquad-r/de": 3}; !reflect.DeepEqual(keys, want) {
		t.Errorf("messages per key = %v, want %v", keys, want)
	}
	// Records of one key are on one partition, each kind in the file's order.
	var en []string
	for _, r := range got.Rows {
		if r.Lang == "en" {
			en = append(en, r.ID)
		}
	}
	for _, pair := range [][2]string{{"en/q/q1", "en/q/q2"}, {"en/c/0.0.0", "en/c/0.0.1"}} {
		if i, j := slices.Index(en, pair[0]), slices.Index(en, pair[1]); i < 0 || j < i {
			t.Errorf("en records in order %v: want %s before %s", en, pair[0], pair[1])
		}
	}

	ends := map[string]int64{}
	for _, mk := range got.Markers {
		ends[mk.Lang+" "+string(mk.ItemKind)] = mk.Count
		if mk.Dataset != "xquad-r" || !slices.Equal(mk.Langs, []string{"en", "de"}) {
			t.Errorf("marker %+v: want dataset xquad-r and Langs [en de]", mk)
		}
	}
	if want := map[string]int64{"en query": 2, "en candidate": 2, "de query": 1, "de candidate": 2}; !reflect.DeepEqual(ends, want) {
		t.Errorf("stream-end counts = %v, want %v", ends, want)
	}
	if len(got.RunEnds) != 2 {
		t.Errorf("%d run ends, want one on each of the 2 partitions", len(got.RunEnds))
	}

	reasons := pipelinetest.DeadLetters(m, w)
	if len(reasons) != 1 || !strings.Contains(reasons[0], "en.json: data[0].paragraphs[0].qas[2].question: empty") {
		t.Errorf("dead letters = %q, want the empty question of en.json", reasons)
	}
	if got, want := src.Counts.Snapshot(), (pipeline.Snapshot{In: 8, Out: 7, Dead: 1, Emitted: 7}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
	if len(sums) != 2 || sums[0].Lang != "en" || sums[0].Items != 4 || sums[0].Skipped != 1 || sums[1].Lang != "de" || sums[1].Items != 3 || len(sums[0].SHA256) != 64 {
		t.Errorf("file sums = %+v, want en 4 items 1 skipped, de 3 items, with digests", sums)
	}
}

// A broken record fails the run before anything is produced unless partial loading is on.
func TestIngestSendsNothingForABrokenFile(t *testing.T) {
	ctx, m, w := pipelinetest.Setup(t, 1)
	cfg := Config{DataDir: writeData(t), Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"de", "en"}}}
	_, err := Run(ctx, pipeline.NewSource("ingest", w), w.Topics, cfg, quiet())
	if err == nil || !strings.Contains(err.Error(), "qas[2].question: empty") {
		t.Fatalf("err = %v, want the empty question", err)
	}
	if n := len(m.Messages(w.Topics.Items().Name)); n != 0 {
		t.Errorf("%d messages produced before the failure, want none (de was valid, but en was not)", n)
	}
}

// Two languages of the real XQuAD-R: the counts DATA.md records (1190 questions per language; 1276
// German and 852 Thai candidate sentences).
func TestIngestRealXQuADR(t *testing.T) {
	dir := testenv.DataDir(t)
	ctx, m, w := pipelinetest.Setup(t, 2)
	src := pipeline.NewSource("ingest", w)
	cfg := Config{DataDir: dir, Datasets: []string{dataset.XQuADR}, Langs: map[string][]string{dataset.XQuADR: {"de", "th"}}}
	if _, err := Run(ctx, src, w.Topics, cfg, quiet()); err != nil {
		t.Fatal(err)
	}
	got := pipelinetest.Read(t, m, w.Topics.Items())
	ends := map[string]int64{}
	for _, mk := range got.Markers {
		ends[mk.Lang+" "+string(mk.ItemKind)] = mk.Count
	}
	if want := map[string]int64{"de query": 1190, "de candidate": 1276, "th query": 1190, "th candidate": 852}; !reflect.DeepEqual(ends, want) {
		t.Errorf("stream-end counts = %v, want %v", ends, want)
	}
	n := map[string]int64{}
	for _, r := range got.Rows {
		n[r.Lang+" "+string(r.Kind)]++
	}
	if !reflect.DeepEqual(n, ends) {
		t.Errorf("records per stream %v, markers %v", n, ends)
	}
	if got, want := src.Counts.Snapshot(), (pipeline.Snapshot{In: 4508, Out: 4508, Emitted: 4508}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// A BEIR-layout set ingests like any dataset: its judged queries, then its corpus, on one key, each kind
// closed by a marker that counts it.
func TestIngestBEIRSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	for name, body := range map[string]string{
		"corpus.jsonl":   `{"_id": "d1", "title": "Mji", "text": "Nairobi ni mji mkuu."}` + "\n" + `{"_id": "d2", "text": "Mombasa iko pwani."}` + "\n",
		"queries.jsonl":  `{"_id": "q1", "text": "Mji mkuu ni upi?"}` + "\n" + `{"_id": "q2", "text": "Haijapimwa."}` + "\n",
		"qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, m, w := pipelinetest.Setup(t, 2)
	src := pipeline.NewSource("ingest", w)
	sums, err := Run(ctx, src, w.Topics, Config{Datasets: []string{"beir:" + dir + ":sw"}}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	got := pipelinetest.Read(t, m, w.Topics.Items())
	var ids []string
	for _, r := range got.Rows {
		ids = append(ids, string(r.Kind)+" "+r.ID+" "+r.Lang+" "+r.Dataset)
	}
	// q2 has no positive judgement: it is not a query of the set.
	want := []string{"query sw/q/q1 sw beir-tiny", "candidate sw/c/d1 sw beir-tiny", "candidate sw/c/d2 sw beir-tiny"}
	if !slices.Equal(ids, want) {
		t.Errorf("items %v, want %v", ids, want)
	}
	if len(got.Markers) != 2 || got.Markers[0].Count != 1 || got.Markers[1].Count != 2 || !slices.Equal(got.Markers[1].Langs, []string{"sw"}) {
		t.Errorf("markers %+v, want 1 query and 2 candidates, langs [sw]", got.Markers)
	}
	if len(sums) != 1 || sums[0].Items != 3 || sums[0].Dataset != "beir-tiny" {
		t.Errorf("file sums %+v", sums)
	}
	if _, err := Run(ctx, src, w.Topics, Config{Datasets: []string{"beir:" + dir}}, quiet()); err == nil || !strings.Contains(err.Error(), "beir:DIR:LANG") {
		t.Errorf("a spec without a language: err = %v", err)
	}
}

// The check of the files keeps their records while they fit in Config.Hold, and a file it kept is produced
// from memory: changing it afterwards changes nothing. A file it did not keep is read again, and a change
// since the check is an error naming it.
func TestCheckedFilesAreProducedFromMemoryUpToHold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hold     int64
		kept     bool
		holdLeft func(int64) bool
	}{
		{"within the default hold", 0, true, func(left int64) bool { return left > 0 && left < defaultHold }},
		{"past the hold", 1, false, func(left int64) bool { return left == 1 }},
		{"a hold of none", -1, false, func(left int64) bool { return left == -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeData(t)
			cfg := Config{DataDir: dir, Langs: map[string][]string{dataset.XQuADR: {"en"}}, Read: dataset.Options{Partial: true}, Hold: tc.hold}
			hold := cfg.Hold
			if hold == 0 {
				hold = defaultHold
			}
			b := newBudget(hold)
			ins, err := fileInputs(cfg, dataset.XQuADR, b, quiet())
			if err != nil || len(ins) != 1 {
				t.Fatalf("inputs %d, %v", len(ins), err)
			}
			if left := b.left.Load(); !tc.holdLeft(left) {
				t.Errorf("hold left %d", left)
			}
			changed := strings.Replace(files["en"], "Q one?", "Q uno?", 1)
			if err := os.WriteFile(filepath.Join(dir, dataset.XQuADR, "en.json"), []byte(changed), 0o644); err != nil {
				t.Fatal(err)
			}
			var texts []string
			var skipped int
			err = ins[0].scan(func(it dataset.Item) error {
				texts = append(texts, it.Text)
				return nil
			}, func(error) error { skipped++; return nil })
			if !tc.kept {
				if err == nil || !strings.Contains(err.Error(), "en.json: file changed while the run was reading it") {
					t.Fatalf("scan of a file changed since its check: %v, want an error naming it", err)
				}
				return
			}
			if err != nil || !slices.Contains(texts, "Q one?") || len(texts) != 4 || skipped != 1 {
				t.Fatalf("scan = %q, %d skipped, %v; want the 4 records and 1 skip of the check, from memory", texts, skipped, err)
			}
		})
	}
}

// The files are checked side by side: the hold is shared, so what they keep together stays within it, and
// the error of a run with several bad files is the first bad file's in file order, whichever is read first.
func TestFilesCheckedTogetherShareTheHoldAndReportTheFirstError(t *testing.T) {
	langs := []string{"de", "en", "es", "fr", "it", "nl", "pt", "sv"}
	write := func(t *testing.T, bad ...string) string {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, dataset.XQuADR), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, l := range langs {
			body := files["en"]
			if slices.Contains(bad, l) {
				body = body[:len(body)/2]
			}
			if err := os.WriteFile(filepath.Join(dir, dataset.XQuADR, l+".json"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	t.Run("hold shared", func(t *testing.T) {
		// Room for about three files' records: some files are kept, the rest read again, none lost.
		var one int64
		dataset.File{Path: filepath.Join(writeData(t), dataset.XQuADR, "en.json"), Lang: "en", Dataset: dataset.XQuADR}.Scan(
			dataset.Options{Partial: true}, func(it dataset.Item) error { one += size(it); return nil }, func(*dataset.RecordError) error { return nil })
		if one == 0 {
			t.Fatal("sized no records")
		}
		b := newBudget(3*one + one/2)
		cfg := Config{DataDir: write(t), Read: dataset.Options{Partial: true}}
		ins, err := fileInputs(cfg, dataset.XQuADR, b, quiet())
		if err != nil || len(ins) != len(langs) {
			t.Fatalf("inputs %d, %v", len(ins), err)
		}
		if left := b.left.Load(); left < 0 || left >= one {
			t.Errorf("hold left %d of %d with files of %d: want 3 files kept", left, 3*one+one/2, one)
		}
		for i, in := range ins {
			var n int
			if err := in.scan(func(dataset.Item) error { n++; return nil }, func(error) error { return nil }); err != nil || n != 4 || in.sum.Lang != langs[i] {
				t.Errorf("input %d (%s): %d records, %v; want %s's 4", i, in.sum.Lang, n, err, langs[i])
			}
		}
	})
	t.Run("first error", func(t *testing.T) {
		dir := write(t, "es", "pt", "sv")
		for range 5 {
			_, err := fileInputs(Config{DataDir: dir, Read: dataset.Options{Partial: true}}, dataset.XQuADR, newBudget(defaultHold), quiet())
			if err == nil || !strings.Contains(err.Error(), "es.json") {
				t.Fatalf("error %v, want es.json's, the first bad file", err)
			}
		}
	})
}

// A file that outgrows the hold gives back what it had kept once, also when it then turns out to be broken:
// the hold is as it was.
func TestABrokenFilePastTheHoldGivesItBackOnce(t *testing.T) {
	para := `{"context": "Ab cd. Ef gh.", "sentence_breaks": [[0, 6], [7, 13]], "sentences": ["Ab cd.", "Ef gh."],
	  "qas": [{"id": "q%d", "question": "Q %d?", "answers": [{"text": "cd", "answer_start": 3}]}]}`
	var paras []string
	for i := range 8 {
		paras = append(paras, fmt.Sprintf(para, i, i))
	}
	good := `{"data": [{"title": "t", "paragraphs": [` + strings.Join(paras, ",") + `]}], "version": "1.1"}`
	// The second title's paragraphs never close: the scan has produced the first title's records by then.
	broken := good[:len(good)-len(`], "version": "1.1"}`)] + `, {"title": "u", "paragraphs": [` + paras[0]
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, dataset.XQuADR), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, dataset.XQuADR, "en.json")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	var all int64
	if _, err := (dataset.File{Path: path, Lang: "en", Dataset: dataset.XQuADR}).Scan(dataset.Options{},
		func(it dataset.Item) error { all += size(it); return nil }, func(*dataset.RecordError) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	hold := all / 2 // the file outgrows it half-way through the first title
	b := newBudget(hold)
	if _, err := fileInputs(Config{DataDir: dir}, dataset.XQuADR, b, quiet()); err == nil {
		t.Fatal("a broken file checked without an error")
	}
	if left := b.left.Load(); left != hold {
		t.Errorf("hold %d after the check, want the %d it started with", left, hold)
	}
}
