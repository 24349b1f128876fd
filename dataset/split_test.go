package dataset

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"xling/internal/testenv"
)

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		name, lang, text string
		want             []string
	}{
		{"full stops", "en", "One two. Three four! Five?", []string{"One two.", "Three four!", "Five?"}},
		{"decimal", "en", "It rose 3.5 percent. Then it fell.", []string{"It rose 3.5 percent.", "Then it fell."}},
		{"abbreviation", "en", "Dr. Smith met Mr. Jones. They spoke.", []string{"Dr. Smith met Mr. Jones.", "They spoke."}},
		{"initials", "en", "J. R. R. Tolkien wrote it. Yes.", []string{"J. R. R. Tolkien wrote it.", "Yes."}},
		{"lower case after stop", "en", "The U.S. army came. It won.", []string{"The U.S. army came.", "It won."}},
		{"closing quote", "en", `He said "stop." Then he left.`, []string{`He said "stop."`, "Then he left."}},
		{"german ordinal", "de", "Am 7. Februar kam er. Er blieb.", []string{"Am 7. Februar kam er.", "Er blieb."}},
		{"greek question mark", "el", "Τι είναι; Είναι σπίτι.", []string{"Τι είναι;", "Είναι σπίτι."}},
		{"semicolon is no stop outside greek", "en", "One; Two.", []string{"One; Two."}},
		{"arabic question mark", "ar", "ما هذا؟ هذا بيت.", []string{"ما هذا؟", "هذا بيت."}},
		{"devanagari danda", "hi", "यह घर है। वह स्कूल है।", []string{"यह घर है।", "वह स्कूल है।"}},
		{"chinese without spaces", "zh", "他来了。她走了！为什么？", []string{"他来了。", "她走了！", "为什么？"}},
		{"chinese closing bracket", "zh", "他说「好。」然后走了。", []string{"他说「好。」", "然后走了。"}},
		{"thai clause word after a long clause", "th",
			"ทีมรับของแพนเธอร์สถอดใจที่คะแนนได้อันดับที่หกของลีกในปีนั้น ซึ่งเป็นผู้นำ",
			[]string{"ทีมรับของแพนเธอร์สถอดใจที่คะแนนได้อันดับที่หกของลีกในปีนั้น", "ซึ่งเป็นผู้นำ"}},
		{"thai clause word too early", "th", "ทีมรับ ซึ่งเป็นผู้นำ", []string{"ทีมรับ ซึ่งเป็นผู้นำ"}},
		// Languages and scripts xling has never been told about; the text is written for this test.
		{"japanese, no spaces", "ja", "富士山は日本で一番高い山です。高さは三千七百七十六メートルです！登ったことがありますか？毎年夏に多くの人が登ります。",
			[]string{"富士山は日本で一番高い山です。", "高さは三千七百七十六メートルです！", "登ったことがありますか？", "毎年夏に多くの人が登ります。"}},
		{"full-width marks in a row", "ja", "本当ですか！？はい。", []string{"本当ですか！？", "はい。"}},
		{"full-width decimal point", "ja", "長さは３．５メートルです。次です。", []string{"長さは３．５メートルです。", "次です。"}},
		{"swahili", "sw", "Mlima Kilimanjaro ni mlima mrefu zaidi barani Afrika. Uko kaskazini mwa Tanzania. Je, umewahi kuupanda? Watalii wengi huupanda kila mwaka!",
			[]string{"Mlima Kilimanjaro ni mlima mrefu zaidi barani Afrika.", "Uko kaskazini mwa Tanzania.", "Je, umewahi kuupanda?", "Watalii wengi huupanda kila mwaka!"}},
		{"armenian full stop", "hy", "Երևանը Հայաստանի մայրաքաղաքն է։ Այն շատ հին քաղաք է։ Դու եղե՞լ ես այնտեղ։",
			[]string{"Երևանը Հայաստանի մայրաքաղաքն է։", "Այն շատ հին քաղաք է։", "Դու եղե՞լ ես այնտեղ։"}},
		{"armenian colon typed for the full stop", "hy", "Երևանը մայրաքաղաքն է: Այն հին է:", []string{"Երևանը մայրաքաղաքն է:", "Այն հին է:"}},
		{"colon is no stop outside armenian", "sw", "Kumbuka: Mlima ni mrefu.", []string{"Kumbuka: Mlima ni mrefu."}},
		{"ethiopic full stop and question mark", "am", "አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት። ብዙ ሰዎች በከተማዋ ይኖራሉ። ወደዚያ ሄደህ ታውቃለህ፧ አዎ።",
			[]string{"አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።", "ብዙ ሰዎች በከተማዋ ይኖራሉ።", "ወደዚያ ሄደህ ታውቃለህ፧", "አዎ።"}},
		{"urdu full stop", "ur", "پاکستان کا دارالحکومت اسلام آباد ہے۔ کراچی سب سے بڑا شہر ہے۔",
			[]string{"پاکستان کا دارالحکومت اسلام آباد ہے۔", "کراچی سب سے بڑا شہر ہے۔"}},
		{"nepali danda and double danda", "ne", "काठमाडौं नेपालको राजधानी हो। यो सहर धेरै पुरानो छ॥ म त्यहाँ गएँ।",
			[]string{"काठमाडौं नेपालको राजधानी हो।", "यो सहर धेरै पुरानो छ॥", "म त्यहाँ गएँ।"}},
		{"danda before a citation mark", "hi", "यह सच है।[citation needed]", []string{"यह सच है।[citation needed]"}},
		{"burmese section mark, not its comma", "my", "မြန်မာနိုင်ငံသည် အာရှတွင် ရှိသည်။ ရန်ကုန်သည် မြို့ကြီး ဖြစ်သည်၊ သို့သော် မြို့တော် မဟုတ်ပါ။",
			[]string{"မြန်မာနိုင်ငံသည် အာရှတွင် ရှိသည်။", "ရန်ကုန်သည် မြို့ကြီး ဖြစ်သည်၊ သို့သော် မြို့တော် မဟုတ်ပါ။"}},
		{"khmer khan without a space", "km", "ភ្នំពេញជារាជធានីនៃកម្ពុជា។ទន្លេមេគង្គហូរកាត់ទីក្រុង៕",
			[]string{"ភ្នំពេញជារាជធានីនៃកម្ពុជា។", "ទន្លេមេគង្គហូរកាត់ទីក្រុង៕"}},
		{"greek question mark character", "el", "Τι είναι\u037e Είναι σπίτι.", []string{"Τι είναι\u037e", "Είναι σπίτι."}},
		{"spanish opening question mark", "es", "Es verdad. ¿Dónde está? Aquí.", []string{"Es verdad.", "¿Dónde está?", "Aquí."}},
		{"lao has no marks", "lo", "ນະຄອນຫຼວງວຽງຈັນ ເປັນນະຄອນຫຼວງ", []string{"ນະຄອນຫຼວງວຽງຈັນ ເປັນນະຄອນຫຼວງ"}},
		{"surrounding space", "en", "  One.   Two.  ", []string{"One.", "Two."}},
		{"empty", "en", " ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, s := range SplitSentences(tt.lang, tt.text) {
				got = append(got, tt.text[s.Start:s.End])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitSentences(%q, %q) = %q, want %q", tt.lang, tt.text, got, tt.want)
			}
		})
	}
}

// TestSplitAgreesWithXQuADR measures boundary F1 of SplitSentences against XQuAD-R's published sentence
// breaks, on the same paragraphs (raw XQuAD and XQuAD-R share their contexts). The gold breaks are read
// here with plain encoding/json, not through the reader.
func TestSplitAgreesWithXQuADR(t *testing.T) {
	dir := testenv.DataDir(t)
	// Floors sit a little under the measured figures (see the report); Thai is clause-based upstream.
	floors := []struct {
		lang  string
		floor float64
	}{
		{"ar", 0.96}, {"de", 0.95}, {"el", 0.95}, {"en", 0.96}, {"es", 0.95}, {"hi", 0.96},
		{"ru", 0.96}, {"th", 0.50}, {"tr", 0.91}, {"vi", 0.95}, {"zh", 0.91},
	}
	for _, fl := range floors {
		lang, floor := fl.lang, fl.floor
		raw, err := os.ReadFile(filepath.Join(dir, "xquad-r", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Data []struct {
				Paragraphs []struct {
					Context        string  `json:"context"`
					SentenceBreaks [][]int `json:"sentence_breaks"`
				} `json:"paragraphs"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		var tp, fp, fn, exact, paras int
		for _, a := range f.Data {
			for _, p := range a.Paragraphs {
				gold := map[int]bool{}
				for _, b := range p.SentenceBreaks[1:] {
					gold[b[0]] = true
				}
				got := map[int]bool{}
				for i, s := range SplitSentences(lang, p.Context) {
					if i > 0 {
						got[utf8.RuneCountInString(p.Context[:s.Start])] = true
					}
				}
				match := 0
				for b := range got {
					if gold[b] {
						match++
					}
				}
				tp += match
				fp += len(got) - match
				fn += len(gold) - match
				paras++
				if match == len(got) && match == len(gold) {
					exact++
				}
			}
		}
		prec := float64(tp) / float64(tp+fp)
		rec := float64(tp) / float64(tp+fn)
		f1 := 2 * prec * rec / (prec + rec)
		t.Logf("%s: boundary precision %.3f recall %.3f F1 %.3f; paragraphs split exactly %d/%d", lang, prec, rec, f1, exact, paras)
		if !(f1 >= floor) { // NaN when no boundary was found at all
			t.Errorf("%s: boundary F1 %.3f below floor %.2f", lang, f1, floor)
		}
	}
}
