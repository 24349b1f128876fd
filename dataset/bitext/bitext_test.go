package bitext

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"xling/internal/testenv"
)

func readAll(t *testing.T, c Corpus, opt Options) ([]Group, Stats, error) {
	t.Helper()
	var gs []Group
	st, err := c.Read(context.Background(), opt, func(g Group) error {
		gs = append(gs, g)
		return nil
	})
	return gs, st, err
}

// The expected counts are DATA.md's (and `wc -l` of the shared copies).
func TestReadSharedCorporaMatchDataMD(t *testing.T) {
	root := filepath.Join(testenv.DataDir(t), "bitext")
	all11 := "ar de el en es hi ru th tr vi zh"
	tests := []struct {
		corpus  Corpus
		groups  int
		perPart map[string]int // group-id prefix -> groups
		langs   string         // languages of every group, for corpora aligned across all languages
	}{
		{
			corpus: Tatoeba(filepath.Join(root, "tatoeba")),
			groups: 10305 + 17565 + 10899 + 5000 + 19425 + 16583 + 1154 + 13907 + 2500 + 10390,
			perPart: map[string]int{
				"tatoeba/eng-ara:": 10305, "tatoeba/eng-deu:": 17565, "tatoeba/eng-ell:": 10899,
				"tatoeba/eng-hin:": 5000, "tatoeba/eng-rus:": 19425, "tatoeba/eng-spa:": 16583,
				"tatoeba/eng-tha:": 1154, "tatoeba/eng-tur:": 13907, "tatoeba/eng-vie:": 2500,
				"tatoeba/eng-zho:": 10390,
			},
		},
		{corpus: NTREX(filepath.Join(root, "ntrex")), groups: 1997, langs: all11},
		{corpus: FLORES(filepath.Join(root, "flores200-devtest")), groups: 1012, langs: all11},
		{
			// 8628 records per language (dev 1500, test 1379, train 5749), two sentences each.
			corpus:  STSB(filepath.Join(root, "stsb-multi-mt")),
			groups:  2 * 8628,
			perPart: map[string]int{"stsb/dev:": 2 * 1500, "stsb/test:": 2 * 1379, "stsb/train:": 2 * 5749},
			langs:   "de en es ru zh",
		},
	}
	for _, tt := range tests {
		t.Run(tt.corpus.Name, func(t *testing.T) {
			gs, st, err := readAll(t, tt.corpus, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(gs) != tt.groups || st.Groups != tt.groups || st.Dropped+st.SkippedLines+st.SkippedFiles != 0 {
				t.Fatalf("got %d groups, stats %+v; want %d groups, nothing left out", len(gs), st, tt.groups)
			}
			perPart := map[string]int{}
			seen := map[string]bool{}
			for _, g := range gs {
				if seen[g.ID] {
					t.Fatalf("group id %s twice", g.ID)
				}
				seen[g.ID] = true
				if g.Corpus != tt.corpus.Name {
					t.Fatalf("group %s: corpus %q", g.ID, g.Corpus)
				}
				perPart[g.ID[:strings.LastIndex(g.ID, ":")+1]]++
				if tt.langs != "" && strings.Join(sortedLangs(g), " ") != tt.langs {
					t.Fatalf("group %s: languages %v, want %s", g.ID, sortedLangs(g), tt.langs)
				}
				if tt.langs == "" && (len(g.Text) != 2 || g.Text["en"] == "") {
					t.Fatalf("group %s: want English and one other language, got %v", g.ID, sortedLangs(g))
				}
			}
			for prefix, want := range tt.perPart {
				if perPart[prefix] != want {
					t.Errorf("%s*: %d groups, want %d", prefix, perPart[prefix], want)
				}
			}
		})
	}
}

func sortedLangs(g Group) []string { return slices.Sorted(maps.Keys(g.Text)) }

// Python's csv module is the reference for stsb's quoted fields; plain file lines for the others.
func TestReadTextMatchesReference(t *testing.T) {
	py := testenv.RequirePython(t, "csv", "json")
	root := filepath.Join(testenv.DataDir(t), "bitext")
	script := `
import csv, json, sys
out = {}
for lang in ["de", "zh"]:
    with open(sys.argv[1] + "/stsb-" + lang + "-train.csv", encoding="utf-8", newline="") as f:
        for n, rec in enumerate(csv.reader(f), 1):
            for col in (0, 1):
                out.setdefault("stsb/train:%d/%d" % (n, col + 1), {})[lang] = rec[col]
json.dump(out, sys.stdout)
`
	raw, err := exec.Command(py, "-c", script, filepath.Join(root, "stsb-multi-mt")).Output()
	if err != nil {
		t.Fatalf("python reference: %v", err)
	}
	var want map[string]map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	stsb, _, err := readAll(t, STSB(filepath.Join(root, "stsb-multi-mt")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, g := range stsb {
		w, ok := want[g.ID]
		if !ok {
			continue
		}
		for lang, text := range w {
			if g.Text[lang] != text {
				t.Fatalf("%s %s: %q, python csv reads %q", g.ID, lang, g.Text[lang], text)
			}
		}
		checked++
	}
	if checked != 2*5749 {
		t.Fatalf("checked %d stsb train groups, want %d", checked, 2*5749)
	}

	lines := func(path string) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	th := lines(filepath.Join(root, "tatoeba", "eng-tha.tha"))
	en := lines(filepath.Join(root, "tatoeba", "eng-tha.eng"))
	tat, _, err := readAll(t, Tatoeba(filepath.Join(root, "tatoeba")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range tat {
		if !strings.HasPrefix(g.ID, "tatoeba/eng-tha:") {
			continue
		}
		if g.Text["th"] != th[n] || g.Text["en"] != en[n] || g.ID != "tatoeba/eng-tha:"+strconv.Itoa(n+1) {
			t.Fatalf("%s: %q / %q, want line %d: %q / %q", g.ID, g.Text["en"], g.Text["th"], n+1, en[n], th[n])
		}
		n++
	}
	if n != len(th) {
		t.Fatalf("eng-tha: %d groups, want %d", n, len(th))
	}
}

func TestHoldoutRemovesLanguagesAndDropsShortGroups(t *testing.T) {
	root := filepath.Join(testenv.DataDir(t), "bitext")
	gs, st, err := readAll(t, Tatoeba(filepath.Join(root, "tatoeba")), Options{Holdout: []string{"el", "vi"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Dropped != 10899+2500 || len(gs) != 107728-10899-2500 {
		t.Fatalf("dropped %d, kept %d; want 13399 dropped (eng-ell, eng-vie), 94329 kept", st.Dropped, len(gs))
	}
	gs, st, err = readAll(t, FLORES(filepath.Join(root, "flores200-devtest")), Options{Holdout: []string{"el", "vi"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if len(g.Text) != 9 || g.Text["el"] != "" || g.Text["vi"] != "" {
			t.Fatalf("group %s: languages %v, want 9 without el and vi", g.ID, sortedLangs(g))
		}
	}
	if len(gs) != 1012 || st.Dropped != 0 {
		t.Fatalf("kept %d, dropped %d; want 1012, 0", len(gs), st.Dropped)
	}
}

// writeDir makes a corpus directory from file name -> content.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadBadInput(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name    string
		corpus  func(dir string) Corpus
		files   map[string]string
		wantErr []string // substrings of the error, beside the directory; {} for none
		// with Skip
		skipErr   []string
		skipStats Stats
	}{
		{
			name:      "mismatched line counts, first file shorter",
			corpus:    NTREX,
			files:     map[string]string{"eng.txt": "a\nb\nc\n", "deu.txt": "a\nb\n"},
			wantErr:   []string{"deu.txt: 2 lines", "eng.txt has more (line 3)"},
			skipErr:   []string{"deu.txt: 2 lines", "eng.txt has more (line 3)"},
			skipStats: Stats{Groups: 2},
		},
		{
			name:      "mismatched line counts, first file longer",
			corpus:    Tatoeba,
			files:     map[string]string{"eng-deu.eng": "a\nb\nc\n", "eng-deu.deu": "a\nb\nc\nd\n"},
			wantErr:   []string{"eng-deu.eng: 3 lines", "eng-deu.deu has more (line 4)"},
			skipErr:   []string{"eng-deu.eng: 3 lines"},
			skipStats: Stats{Groups: 3},
		},
		{
			name:      "empty line",
			corpus:    NTREX,
			files:     map[string]string{"eng.txt": "a\nb\nc\n", "deu.txt": "a\n \nc\n", "spa.txt": "a\nb\nc\n"},
			wantErr:   []string{"deu.txt:2: empty line"},
			skipStats: Stats{Groups: 3, SkippedLines: 1},
		},
		{
			name:      "empty line leaves one language",
			corpus:    Tatoeba,
			files:     map[string]string{"eng-deu.eng": "a\n\nc\n", "eng-deu.deu": "a\nb\nc\n"},
			wantErr:   []string{"eng-deu.eng:2: empty line"},
			skipStats: Stats{Groups: 2, SkippedLines: 1, Dropped: 1},
		},
		{
			name:      "line too long",
			corpus:    FLORES,
			files:     map[string]string{"eng_Latn.devtest": "a\n" + long + "\nc", "deu_Latn.devtest": "a\nb\nc"},
			wantErr:   []string{"eng_Latn.devtest:2: line longer than 32 bytes"},
			skipStats: Stats{Groups: 2, SkippedLines: 1, Dropped: 1},
		},
		{
			name:      "not UTF-8",
			corpus:    NTREX,
			files:     map[string]string{"eng.txt": "a\n\xff\xfe\n", "deu.txt": "a\nb\n"},
			wantErr:   []string{"eng.txt:2: line is not UTF-8"},
			skipStats: Stats{Groups: 1, SkippedLines: 1, Dropped: 1},
		},
		{
			name:      "unknown language code",
			corpus:    NTREX,
			files:     map[string]string{"eng.txt": "a\n", "deu.txt": "a\n", "xxx.txt": "a\n"},
			wantErr:   []string{"xxx.txt: unknown language code \"xxx\""},
			skipStats: Stats{Groups: 1, SkippedFiles: 1},
		},
		{
			name:      "traditional Chinese is not zh",
			corpus:    FLORES,
			files:     map[string]string{"eng_Latn.devtest": "a\n", "zho_Hant.devtest": "a\n"},
			wantErr:   []string{"zho_Hant.devtest: language code \"zho_Hant\": script Hant is not the usual script of zh (Hans)"},
			skipErr:   []string{"no aligned file"},
			skipStats: Stats{SkippedFiles: 2},
		},
		{
			name:      "single-language group",
			corpus:    Tatoeba,
			files:     map[string]string{"eng-deu.eng": "a\n", "eng-deu.deu": "a\n", "eng-spa.eng": "a\n"},
			wantErr:   []string{"eng-spa.eng: no aligned file in another language"},
			skipStats: Stats{Groups: 1, SkippedFiles: 1},
		},
		{
			name:      "tatoeba part without English",
			corpus:    Tatoeba,
			files:     map[string]string{"eng-deu.deu": "a\n", "eng-deu.spa": "a\n"},
			wantErr:   []string{"eng-deu.deu: tatoeba part eng-deu has no English side"},
			skipErr:   []string{"has no English side"},
			skipStats: Stats{},
		},
		{
			name:      "two files of one language",
			corpus:    NTREX,
			files:     map[string]string{"ara.txt": "a\n", "arb.txt": "a\n"},
			wantErr:   []string{"language ar already read from"},
			skipErr:   []string{"language ar already read from"},
			skipStats: Stats{},
		},
		{
			name:   "stsb scores differ",
			corpus: STSB,
			files: map[string]string{
				"stsb-en-dev.csv": "a,b,1.0\nc,d,2.0\n",
				"stsb-de-dev.csv": "a,b,1.0\nc,d,2.5\n",
			},
			wantErr:   []string{"stsb-en-dev.csv:2: score \"2.0\"", "stsb-de-dev.csv record 2 has \"2.5\"", "misaligned"},
			skipErr:   []string{"misaligned"},
			skipStats: Stats{Groups: 2},
		},
		{
			name:   "stsb empty sentence",
			corpus: STSB,
			files: map[string]string{
				"stsb-en-dev.csv": "a,b,1.0\n\"\",d,2.0\n",
				"stsb-de-dev.csv": "a,b,1.0\nc,d,2.0\n",
			},
			wantErr:   []string{"stsb-en-dev.csv:2: sentence1: empty line"},
			skipStats: Stats{Groups: 3, SkippedLines: 1, Dropped: 1},
		},
		{
			name:   "stsb record counts differ",
			corpus: STSB,
			files: map[string]string{
				"stsb-en-dev.csv": "a,b,1.0\n",
				"stsb-de-dev.csv": "a,b,1.0\nc,d,2.0\n",
			},
			wantErr:   []string{"stsb-en-dev.csv: 1 records", "stsb-de-dev.csv has more (record 2)"},
			skipErr:   []string{"has more"},
			skipStats: Stats{Groups: 2},
		},
		{
			name:   "stsb quoted sentence holds a line end",
			corpus: STSB,
			files: map[string]string{
				"stsb-en-dev.csv": "a,b,1.0\n\"c\nc\",d,2.0\n",
				"stsb-de-dev.csv": "a,b,1.0\nc,d,2.0\n",
			},
			wantErr:   []string{"stsb-en-dev.csv:2: sentence1: text holds a line end"},
			skipStats: Stats{Groups: 3, SkippedLines: 1, Dropped: 1},
		},
		{
			// Each line is short, but the quoted field spans them all: the bound is on the record.
			name:   "stsb record of many short lines",
			corpus: STSB,
			files: map[string]string{
				"stsb-en-dev.csv": "a,b,1.0\n\"" + strings.Repeat("x\n", 100) + "\",d,2.0\n",
				"stsb-de-dev.csv": "a,b,1.0\nc,d,2.0\n",
			},
			wantErr: []string{"stsb-en-dev.csv: record longer than 128 bytes"},
			skipErr: []string{"stsb-en-dev.csv: record longer than 128 bytes"},
			// encoding/csv reads ahead, so the read fails before the first record.
			skipStats: Stats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			for _, skip := range []bool{false, true} {
				want := tt.wantErr
				if skip {
					want = tt.skipErr
				}
				_, st, err := readAll(t, tt.corpus(dir), Options{Skip: skip, MaxLineBytes: 32})
				if len(want) == 0 {
					if err != nil {
						t.Fatalf("skip=%v: %v", skip, err)
					}
				} else {
					if err == nil {
						t.Fatalf("skip=%v: no error, want one with %q", skip, want)
					}
					for _, w := range want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("skip=%v: error %q, want it to contain %q", skip, err, w)
						}
					}
				}
				if skip && st != tt.skipStats {
					t.Errorf("skip: stats %+v, want %+v", st, tt.skipStats)
				}
			}
		})
	}
}

func TestReadDropsLineEnds(t *testing.T) {
	dir := writeDir(t, map[string]string{"eng.txt": "a b\r\nc\r\n", "deu.txt": "x y\nz"})
	gs, _, err := readAll(t, NTREX(dir), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Group{
		{ID: "ntrex:1", Corpus: "ntrex", Text: map[string]string{"en": "a b", "de": "x y"}},
		{ID: "ntrex:2", Corpus: "ntrex", Text: map[string]string{"en": "c", "de": "z"}},
	}
	if !reflect.DeepEqual(gs, want) {
		t.Fatalf("got %+v, want %+v", gs, want)
	}
}

func TestHoldoutTakesISO6391Codes(t *testing.T) {
	dir := writeDir(t, map[string]string{"eng.txt": "a\n", "ell.txt": "a\n"})
	_, _, err := readAll(t, NTREX(dir), Options{Holdout: []string{"ell"}})
	if err == nil || !strings.Contains(err.Error(), `holdout: malformed language code "ell"`) {
		t.Fatalf("error %v, want one rejecting holdout code ell", err)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	dir := writeDir(t, map[string]string{"eng.txt": "a\nb\nc\n", "deu.txt": "a\nb\nc\n"})
	stop := os.ErrClosed
	n := 0
	_, err := NTREX(dir).Read(context.Background(), Options{}, func(Group) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d groups, want %v after 1", err, n, stop)
	}
}

// A corpus file linked to a file outside the corpus directory is refused, with or without Skip: data
// cannot make xling read elsewhere. A link inside the directory is read.
func TestReadRefusesFilesLinkedOutOfTheCorpus(t *testing.T) {
	outside := writeDir(t, map[string]string{"secret": "x\ny\n"})
	for _, tc := range []struct {
		name, target string // {outside}: the relative path to outside
		want         string // the error; "" for none
	}{
		{name: "absolute link out", target: filepath.Join(outside, "secret"), want: "deu.txt leads out of"},
		{name: "relative link out", target: "{outside}/secret", want: "deu.txt leads out of"},
		{name: "link inside", target: "spa.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{"eng.txt": "a\nb\n", "spa.txt": "c\nd\n"})
			rel, err := filepath.Rel(dir, outside)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(strings.ReplaceAll(tc.target, "{outside}", rel), filepath.Join(dir, "deu.txt")); err != nil {
				t.Fatal(err)
			}
			for _, skip := range []bool{false, true} {
				_, _, err := readAll(t, NTREX(dir), Options{Skip: skip})
				if tc.want == "" && err != nil {
					t.Errorf("skip=%v: %v", skip, err)
				}
				if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
					t.Errorf("skip=%v: err = %v, want one saying %q", skip, err, tc.want)
				}
			}
		})
	}
}
