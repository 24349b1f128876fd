package bitext

import (
	"reflect"
	"strings"
	"testing"

	"xling/internal/testenv"
)

func TestCorpusLang(t *testing.T) {
	tests := []struct {
		code, want, wantErr string
	}{
		{code: "en", want: "en"}, {code: "eng", want: "en"}, {code: "eng_Latn", want: "en"},
		{code: "arb", want: "ar"}, {code: "arb_Arab", want: "ar"}, {code: "zho-CN", want: "zh"}, {code: "zho_Hans", want: "zh"},
		// Languages xling has never been told about.
		{code: "swh_Latn", want: "sw"}, {code: "swa", want: "sw"}, {code: "amh_Ethi", want: "am"}, {code: "hye_Armn", want: "hy"},
		{code: "jpn_Jpan", want: "ja"}, {code: "kor_Hang", want: "ko"}, {code: "nob", want: "nb"}, {code: "tgl", want: "tl"},
		{code: "zho_Hant", wantErr: `language code "zho_Hant": script Hant is not the usual script of zh (Hans)`},
		{code: "zho-TW", wantErr: `language code "zho-TW": script Hant is not the usual script of zh (Hans)`},
		{code: "yue_Hant", wantErr: `language code "yue_Hant": yue has no ISO 639-1 code`},
		{code: "xxx", wantErr: `unknown language code "xxx"`},
		{code: "xxx_Latn", wantErr: `unknown language code "xxx_Latn"`},
		{code: "eng_", wantErr: `unknown language code "eng_"`},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := corpusLang(tt.code)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("corpusLang(%q) = %q, %v; want error %q", tt.code, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("corpusLang(%q) = %q, %v; want %q", tt.code, got, err, tt.want)
			}
		})
	}
}

// newLangs is one parallel text in English and four languages xling has never seen, written for this test.
var newLangs = map[string][3]string{
	"en": {"Water boils at one hundred degrees.", "My mother lives in the city.", "Where is the market?"},
	"sw": {"Maji huchemka kwenye nyuzi joto mia moja.", "Mama yangu anaishi mjini.", "Soko liko wapi?"},
	"am": {"ውሃ በመቶ ዲግሪ ይፈላል።", "እናቴ በከተማ ትኖራለች።", "ገበያው የት ነው?"},
	"hy": {"Ջուրը եռում է հարյուր աստիճանում։", "Մայրս ապրում է քաղաքում։", "Որտե՞ղ է շուկան։"},
	"ja": {"水は百度で沸騰します。", "母は町に住んでいます。", "市場はどこですか？"},
}

func TestReadNewLanguagesFromFileNames(t *testing.T) {
	files := map[string]string{"README": "FLORES-style test corpus\n", "notes.md": "x\n"}
	for lang, code := range map[string]string{"en": "eng_Latn", "sw": "swh_Latn", "am": "amh_Ethi", "hy": "hye_Armn", "ja": "jpn_Jpan"} {
		l := newLangs[lang]
		files[code+".devtest"] = strings.Join(l[:], "\n") + "\n"
	}
	dir := writeDir(t, files)
	log, records := testenv.Logger(t)
	gs, st, err := readAll(t, FLORES(dir), Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	var want []Group
	for i := range 3 {
		g := Group{ID: "flores200:" + string(rune('1'+i)), Corpus: "flores200", Text: map[string]string{}}
		for lang, l := range newLangs {
			g.Text[lang] = l[i]
		}
		want = append(want, g)
	}
	if !reflect.DeepEqual(gs, want) || st.Groups != 3 {
		t.Fatalf("got %+v (stats %+v), want %+v", gs, st, want)
	}
	var skipped []string
	for _, r := range records() {
		if r["level"] == "WARN" {
			skipped = append(skipped, r["file"].(string)+": "+r["reason"].(string))
		}
	}
	// The README is a companion of the data, skipped without a warning; notes.md is not.
	wantSkipped := []string{
		dir + "/notes.md: not named <code>.txt or <code>.devtest",
	}
	if !reflect.DeepEqual(skipped, wantSkipped) {
		t.Errorf("warnings %q, want %q", skipped, wantSkipped)
	}
}

// With Skip, a file whose code is no ISO 639-1 language is left out with a warning saying why.
func TestSkipWarnsAboutUnknownLanguage(t *testing.T) {
	dir := writeDir(t, map[string]string{"eng.txt": "a\n", "swa.txt": "b\n", "yue.txt": "c\n"})
	log, records := testenv.Logger(t)
	gs, st, err := readAll(t, NTREX(dir), Options{Skip: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || !reflect.DeepEqual(gs[0].Text, map[string]string{"en": "a", "sw": "b"}) || st.SkippedFiles != 1 {
		t.Fatalf("got %+v, stats %+v; want one en/sw group and one file skipped", gs, st)
	}
	recs := records()
	if len(recs) != 1 || recs[0]["file"] != dir+"/yue.txt" || recs[0]["reason"] != `language code "yue": yue has no ISO 639-1 code` {
		t.Errorf("log %v, want one warning naming yue.txt", recs)
	}
	if _, _, err := readAll(t, NTREX(dir), Options{}); err == nil || err.Error() != dir+`/yue.txt: language code "yue": yue has no ISO 639-1 code` {
		t.Errorf("without Skip: error %v, want one naming yue.txt", err)
	}
}
