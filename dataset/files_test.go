package dataset

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// Published counts (DATA.md, the LAReQA paper): questions and candidate sentences per language.
var (
	xquadRCandidates = map[string]int{
		"ar": 1222, "de": 1276, "el": 1234, "en": 1180, "es": 1215, "hi": 1244,
		"ru": 1219, "th": 852, "tr": 1167, "vi": 1209, "zh": 1196,
	}
	mlqaRCounts = map[string][2]int{
		"ar": {517, 2545}, "de": {512, 2362}, "en": {1148, 6264}, "es": {500, 1787},
		"hi": {507, 2426}, "vi": {511, 2828}, "zh": {504, 2322},
	}
)

// dataSHA256 reads the checksums DATA.md publishes, keyed by path relative to the data directory.
func dataSHA256(t *testing.T, dir string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "DATA.md"))
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if sum, path, ok := strings.Cut(line, "  ./"); ok && len(sum) == 64 {
			sums[path] = sum
		}
	}
	return sums
}

func readAll(t *testing.T, dir, name string) map[string][]Item {
	t.Helper()
	files, err := Files(dir, name, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sums := dataSHA256(t, dir)
	out := map[string][]Item{}
	for _, f := range files {
		res, err := f.Read(Options{})
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f.Path)
		if want := sums[filepath.ToSlash(rel)]; res.SHA256 != want {
			t.Errorf("%s: SHA256 %s, DATA.md says %s", rel, res.SHA256, want)
		}
		if len(res.Skipped) != 0 {
			t.Errorf("%s: skipped %d records without Partial", rel, len(res.Skipped))
		}
		out[f.Lang] = res.Items
	}
	return out
}

func count(items []Item) (queries, candidates int) {
	for _, it := range items {
		if it.Kind == Query {
			queries++
		} else {
			candidates++
		}
	}
	return queries, candidates
}

// relevantPerQuery counts, for every query id, the candidates in the pool of all languages that list it.
func relevantPerQuery(byLang map[string][]Item) map[string]int {
	rel := map[string]int{}
	for _, items := range byLang {
		for _, it := range items {
			if it.Kind == Query {
				rel[it.QID] += 0
			}
			for _, q := range it.QIDs {
				rel[q]++
			}
		}
	}
	return rel
}

func TestReadXQuADRMatchesPublishedCounts(t *testing.T) {
	byLang := readAll(t, testenv.DataDir(t), XQuADR)
	for lang, want := range xquadRCandidates {
		if q, c := count(byLang[lang]); q != 1190 || c != want {
			t.Errorf("%s: %d queries, %d candidates; want 1190, %d", lang, q, c, want)
		}
	}
	for qid, n := range relevantPerQuery(byLang) {
		if n != 11 {
			t.Errorf("question %s has %d relevant candidates over all languages, want 11", qid, n)
		}
	}
}

func TestReadMLQARMatchesPublishedCounts(t *testing.T) {
	byLang := readAll(t, testenv.DataDir(t), MLQAR)
	for lang, want := range mlqaRCounts {
		if q, c := count(byLang[lang]); q != want[0] || c != want[1] {
			t.Errorf("%s: %d queries, %d candidates; want %d, %d", lang, q, c, want[0], want[1])
		}
	}
	for qid, n := range relevantPerQuery(byLang) {
		if n < 2 || n > 4 {
			t.Errorf("question %s has %d relevant candidates over all languages, want 2 to 4", qid, n)
		}
	}
}

// Raw XQuAD is split by rule, so candidate counts differ from XQuAD-R, but every question still has
// exactly one relevant sentence per language.
func TestReadRawXQuADGivesOneRelevantSentencePerLanguage(t *testing.T) {
	byLang := readAll(t, testenv.DataDir(t), XQuAD)
	for lang, items := range byLang {
		if q, c := count(items); q != 1190 || c == 0 {
			t.Errorf("%s: %d queries, %d candidates; want 1190 queries", lang, q, c)
		}
	}
	for qid, n := range relevantPerQuery(byLang) {
		if n != 11 {
			t.Errorf("question %s has %d relevant candidates over all languages, want 11", qid, n)
		}
	}
}

// pythonOracle builds the LAReQA candidates of every file with Python's own string indexing, which is
// what the code-point offsets mean: id -> [text, sorted qids].
const pythonOracle = `
import json, sys
out = {}
for lang, path in json.loads(sys.argv[1]).items():
    d = json.load(open(path, encoding="utf-8"))
    for ai, a in enumerate(d["data"]):
        for pi, p in enumerate(a["paragraphs"]):
            starts = {q["id"]: [x["answer_start"] for x in q["answers"]] for q in p["qas"]}
            for si, (s, e) in enumerate(p["sentence_breaks"]):
                qids = sorted(q for q, st in starts.items() if any(s <= x < e for x in st))
                out["%s/c/%d.%d.%d" % (lang, ai, pi, si)] = [p["sentences"][si], qids]
json.dump(out, sys.stdout)
`

func TestReadLAReQAAgreesWithPython(t *testing.T) {
	py := testenv.RequirePython(t)
	dir := testenv.DataDir(t)
	for _, name := range []string{XQuADR, MLQAR} {
		files, err := Files(dir, name, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		paths := map[string]string{}
		for _, f := range files {
			paths[f.Lang] = f.Path
		}
		arg, _ := json.Marshal(paths)
		raw, err := exec.Command(py, "-c", pythonOracle, string(arg)).Output()
		if err != nil {
			t.Fatalf("python oracle: %v", err)
		}
		var want map[string][2]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, f := range files {
			res, err := f.Read(Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range res.Items {
				if it.Kind != Candidate {
					continue
				}
				got++
				w, ok := want[it.ID]
				if !ok {
					t.Fatalf("%s: candidate %s not in the oracle", name, it.ID)
				}
				qids := append([]string(nil), it.QIDs...)
				var wq []string
				for _, q := range w[1].([]any) {
					wq = append(wq, q.(string))
				}
				if it.Text != w[0].(string) || !equalSorted(qids, wq) {
					t.Errorf("%s %s: got %q %v, oracle %q %v", name, it.ID, it.Text, qids, w[0], wq)
				}
			}
		}
		if got != len(want) {
			t.Errorf("%s: %d candidates, oracle %d", name, got, len(want))
		}
	}
}

func equalSorted(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	am, bm := map[string]bool{}, map[string]bool{}
	for _, x := range a {
		am[x] = true
	}
	for _, x := range b {
		bm[x] = true
	}
	return len(a) == len(b) && reflect.DeepEqual(am, bm)
}

func TestFilesRejectsBadNamesAndLanguages(t *testing.T) {
	dir := t.TempDir()
	for _, rel := range []string{"xquad/xquad.en.json", "xquad/xquad.th.json", "xquad-r/en.json", "mlqa-r/en.json", "mlqa-r/xx.json"} {
		writeData(t, dir, rel, "{}")
	}
	tests := []struct {
		name, dataset string
		langs         []string
		want          string
	}{
		{"unknown dataset", "squad", nil, "unknown dataset"},
		{"unknown language", XQuADR, []string{"en", "xx"}, `unknown language code "xx"`},
		{"malformed language", XQuADR, []string{"EN"}, `malformed language code "EN"`},
		{"language the dataset lacks", XQuADR, []string{"el"}, `no language "el"`},
		{"repeated language", XQuAD, []string{"en", "en"}, "listed twice"},
		{"bad file in the folder", MLQAR, []string{"en"}, filepath.Join(dir, "mlqa-r", "xx.json") + `: unknown language code "xx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Files(dir, tt.dataset, tt.langs, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Files(%q, %v) error = %v, want %q", tt.dataset, tt.langs, err, tt.want)
			}
		})
	}
	files, err := Files(dir, XQuAD, []string{"th"}, nil)
	want := []File{{Dataset: XQuAD, Lang: "th", Path: filepath.Join(dir, "xquad", "xquad.th.json")}}
	if err != nil || !reflect.DeepEqual(files, want) {
		t.Errorf("Files(xquad, th) = %v, %v; want %v", files, err, want)
	}
	if _, err := (File{Dataset: XQuADR, Lang: "xx", Path: "d/xx.json"}).Read(Options{}); err == nil ||
		err.Error() != `read d/xx.json: unknown language code "xx": not an ISO 639-1 code` {
		t.Errorf("Read of a file with an unknown language: %v", err)
	}
}

func BenchmarkReadXQuADR(b *testing.B) {
	files, err := Files(testenv.DataDir(b), XQuADR, []string{"ru"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(files[0].Path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := files[0].Read(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadRawXQuAD(b *testing.B) {
	files, err := Files(testenv.DataDir(b), XQuAD, []string{"ru"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(files[0].Path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := files[0].Read(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
