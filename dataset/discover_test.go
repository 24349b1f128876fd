package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"xling/internal/testenv"
)

// Text in languages xling has never been told about, written for these tests. Answer offsets are code
// points, counted by hand: "富士山は日本で一番高い山です。" is 15 of them, so 三 is at 18.
const (
	rawJapanese = `{"data": [{"title": "富士山", "paragraphs": [{
 "context": "富士山は日本で一番高い山です。高さは三千七百七十六メートルです！登ったことがありますか？毎年夏に多くの人が登ります。",
 "qas": [{"id": "fuji-1", "question": "富士山の高さは何メートルですか？", "answers": [{"text": "三千七百七十六メートル", "answer_start": 18}]},
         {"id": "fuji-2", "question": "多くの人はいつ富士山に登りますか？", "answers": [{"text": "毎年夏", "answer_start": 44}]}]}]}]}`
	rawSwahili = `{"data": [{"title": "Kilimanjaro", "paragraphs": [{
 "context": "Mlima Kilimanjaro ni mlima mrefu zaidi barani Afrika. Uko kaskazini mwa Tanzania, karibu na mpaka wa Kenya. Je, umewahi kuupanda? Watalii wengi huupanda kila mwaka!",
 "qas": [{"id": "kili-1", "question": "Mlima Kilimanjaro uko nchi gani?", "answers": [{"text": "Tanzania", "answer_start": 72}]}]}]}]}`
	// LAReQA layout: the breaks ([start, end) code points) and sentences are given, not split.
	lareqaAmharic = `{"data": [{"title": "አዲስ አበባ", "paragraphs": [{
 "context": "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት። ብዙ ሰዎች በከተማዋ ይኖራሉ። ወደዚያ ሄደህ ታውቃለህ፧",
 "sentence_breaks": [[0, 25], [26, 44], [45, 60]],
 "sentences": ["አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።", "ብዙ ሰዎች በከተማዋ ይኖራሉ።", "ወደዚያ ሄደህ ታውቃለህ፧"],
 "qas": [{"id": "addis-1", "question": "የኢትዮጵያ ዋና ከተማ የትኛዋ ናት?", "answers": [{"text": "አዲስ አበባ", "answer_start": 0}]},
         {"id": "addis-2", "question": "በከተማዋ ማን ይኖራል?", "answers": [{"text": "ብዙ ሰዎች", "answer_start": 26}]}]}]}]}`
)

// newLanguageData lays out a data directory the way a user would: new language files dropped beside
// a licence, a misnamed copy, a directory and a symbolic link.
func newLanguageData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for rel, body := range map[string]string{
		"xquad/xquad.ja.json":              rawJapanese,
		"xquad/xquad.sw.json":              rawSwahili,
		"xquad/CC-BY-SA4.0.txt":            "licence",
		"xquad/sw.json":                    rawSwahili,
		"xquad/xquad.fr.json/x":            "a directory named like a file",
		"xquad-r/am.json":                  lareqaAmharic,
		"xquad-r/LICENSE":                  "licence",
		"xquad-r/README.lareqa-354d67d.md": "readme",
		"elsewhere/amharic.json":           lareqaAmharic,
		"xquad-r/en.json.partial":          "half-copied",
	} {
		writeData(t, dir, rel, body)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere", "amharic.json"), filepath.Join(dir, "xquad-r", "hy.json")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// warnings lists the file and reason of every warning logged.
func warnings(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		if r["level"] == "WARN" {
			out = append(out, filepath.Base(r["file"].(string))+": "+r["reason"].(string))
		}
	}
	slices.Sort(out)
	return out
}

func TestDiscoverFindsLanguagesFromFiles(t *testing.T) {
	dir := newLanguageData(t)
	tests := []struct {
		dataset  string
		langs    []string
		warnings []string
	}{
		{XQuAD, []string{"ja", "sw"}, []string{
			"CC-BY-SA4.0.txt: not named xquad.<code>.json",
			"sw.json: not named xquad.<code>.json",
			"xquad.fr.json: not a regular file",
		}},
		{XQuADR, []string{"am", "hy"}, []string{ // LICENSE is a companion file: skipped without a warning
			"en.json.partial: not named <code>.json",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dataset, func(t *testing.T) {
			log, records := testenv.Logger(t)
			files, err := Discover(dir, tt.dataset, log)
			if err != nil {
				t.Fatal(err)
			}
			var langs []string
			for _, f := range files {
				langs = append(langs, f.Lang)
				if f.Dataset != tt.dataset || filepath.Dir(f.Path) != filepath.Join(dir, tt.dataset) {
					t.Errorf("file %+v is not in dataset %s", f, tt.dataset)
				}
			}
			if !reflect.DeepEqual(langs, tt.langs) {
				t.Errorf("languages %v, want %v", langs, tt.langs)
			}
			if got := warnings(records()); !reflect.DeepEqual(got, tt.warnings) {
				t.Errorf("warnings %q, want %q", got, tt.warnings)
			}
		})
	}
	langs, err := Langs(dir, []string{XQuAD, XQuADR}, nil)
	if want := []string{"am", "hy", "ja", "sw"}; err != nil || !reflect.DeepEqual(langs, want) {
		t.Errorf("Langs = %v, %v; want %v", langs, err, want)
	}
}

// A language file linked to a file outside the data directory is refused, naming it; the dataset's other
// files come back beside the error (a link elsewhere inside the data directory is read: newLanguageData).
func TestDiscoverRefusesFilesLinkedOutOfTheDataDirectory(t *testing.T) {
	dir := t.TempDir()
	writeData(t, dir, "xquad-r/am.json", lareqaAmharic)
	outside := filepath.Join(t.TempDir(), "amharic.json")
	if err := os.WriteFile(outside, []byte(lareqaAmharic), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"hy.json": outside, "ka.json": "../../" + filepath.Base(filepath.Dir(outside)) + "/amharic.json"} {
		if err := os.Symlink(target, filepath.Join(dir, "xquad-r", name)); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Discover(dir, XQuADR, nil)
	for _, name := range []string{"hy.json", "ka.json"} {
		if want := filepath.Join(dir, XQuADR, name) + " leads out of " + dir; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want one saying %q", err, want)
		}
	}
	if len(files) != 1 || files[0].Lang != "am" {
		t.Errorf("files %+v, want am alone", files)
	}
}

func TestDiscoverRejectsBadCodesNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"xquad.sw.json", "xquad.xx.json", "xquad.EN.json", "xquad.iw.json", "xquad.swahili.json", "xquad..json"} {
		writeData(t, dir, filepath.Join(XQuAD, name), rawSwahili)
	}
	path := func(name string) string { return filepath.Join(dir, XQuAD, name) }
	want := []string{
		"dataset xquad: " + path("xquad..json") + `: malformed language code "": want an ISO 639-1 code, two lower-case letters`,
		"dataset xquad: " + path("xquad.EN.json") + `: malformed language code "EN": want an ISO 639-1 code, two lower-case letters`,
		"dataset xquad: " + path("xquad.iw.json") + `: deprecated language code "iw": use "he"`,
		"dataset xquad: " + path("xquad.swahili.json") + `: malformed language code "swahili": want an ISO 639-1 code, two lower-case letters`,
		"dataset xquad: " + path("xquad.xx.json") + `: unknown language code "xx": not an ISO 639-1 code`,
	}
	files, err := Discover(dir, XQuAD, nil)
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("Discover error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	// The good file comes back beside the error, for callers that carry on.
	if len(files) != 1 || files[0].Lang != "sw" {
		t.Errorf("Discover files %+v, want the Swahili one", files)
	}
	if files, err := Files(dir, XQuAD, []string{"sw"}, nil); err == nil || files != nil {
		t.Errorf("Files = %+v, %v; want the discovery error", files, err)
	}
	if _, err := Files(t.TempDir(), XQuAD, nil, nil); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Files on a missing folder: %v", err)
	}
	writeData(t, dir, "mlqa-r/README.md", "")
	if _, err := Files(dir, MLQAR, nil, nil); err == nil || !strings.Contains(err.Error(), "dataset mlqa-r: no language files (<code>.json) in ") {
		t.Errorf("Files on a folder without language files: %v", err)
	}
}

func TestReadNewLanguages(t *testing.T) {
	dir := newLanguageData(t)
	const jaCtx = "富士山は日本で一番高い山です。高さは三千七百七十六メートルです！登ったことがありますか？毎年夏に多くの人が登ります。"
	const swCtx = "Mlima Kilimanjaro ni mlima mrefu zaidi barani Afrika. Uko kaskazini mwa Tanzania, karibu na mpaka wa Kenya. Je, umewahi kuupanda? Watalii wengi huupanda kila mwaka!"
	const amCtx = "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት። ብዙ ሰዎች በከተማዋ ይኖራሉ። ወደዚያ ሄደህ ታውቃለህ፧"
	q := func(ds, lang, qid, text string) Item {
		return Item{Dataset: ds, Lang: lang, Kind: Query, ID: lang + "/q/" + qid, QID: qid, Text: text}
	}
	c := func(ds, lang, id, text, ctx string, qids ...string) Item {
		return Item{Dataset: ds, Lang: lang, Kind: Candidate, ID: lang + "/c/" + id, Text: text, Context: ctx, QIDs: qids}
	}
	tests := []struct {
		dataset, lang string
		want          []Item
	}{
		{XQuAD, "ja", []Item{
			q(XQuAD, "ja", "fuji-1", "富士山の高さは何メートルですか？"),
			q(XQuAD, "ja", "fuji-2", "多くの人はいつ富士山に登りますか？"),
			c(XQuAD, "ja", "0.0.0", "富士山は日本で一番高い山です。", jaCtx),
			c(XQuAD, "ja", "0.0.1", "高さは三千七百七十六メートルです！", jaCtx, "fuji-1"),
			c(XQuAD, "ja", "0.0.2", "登ったことがありますか？", jaCtx),
			c(XQuAD, "ja", "0.0.3", "毎年夏に多くの人が登ります。", jaCtx, "fuji-2"),
		}},
		{XQuAD, "sw", []Item{
			q(XQuAD, "sw", "kili-1", "Mlima Kilimanjaro uko nchi gani?"),
			c(XQuAD, "sw", "0.0.0", "Mlima Kilimanjaro ni mlima mrefu zaidi barani Afrika.", swCtx),
			c(XQuAD, "sw", "0.0.1", "Uko kaskazini mwa Tanzania, karibu na mpaka wa Kenya.", swCtx, "kili-1"),
			c(XQuAD, "sw", "0.0.2", "Je, umewahi kuupanda?", swCtx),
			c(XQuAD, "sw", "0.0.3", "Watalii wengi huupanda kila mwaka!", swCtx),
		}},
		{XQuADR, "am", []Item{
			q(XQuADR, "am", "addis-1", "የኢትዮጵያ ዋና ከተማ የትኛዋ ናት?"),
			q(XQuADR, "am", "addis-2", "በከተማዋ ማን ይኖራል?"),
			c(XQuADR, "am", "0.0.0", "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።", amCtx, "addis-1"),
			c(XQuADR, "am", "0.0.1", "ብዙ ሰዎች በከተማዋ ይኖራሉ።", amCtx, "addis-2"),
			c(XQuADR, "am", "0.0.2", "ወደዚያ ሄደህ ታውቃለህ፧", amCtx),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dataset+"/"+tt.lang, func(t *testing.T) {
			files, err := Files(dir, tt.dataset, []string{tt.lang}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := files[0].Read(Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Items, tt.want) {
				t.Errorf("items:\n%+v\nwant:\n%+v", res.Items, tt.want)
			}
		})
	}
}
