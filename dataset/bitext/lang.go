package bitext

// ISO6391 maps a code the corpora use in file names (ISO 639-3, FLORES-200's code_Script, NTREX's zho-CN,
// stsb-multi-mt's ISO 639-1) to ISO 639-1. Only Simplified Chinese maps to zh: zho_Hant is another script.
func ISO6391(code string) (string, bool) {
	switch code {
	case "ar", "ara", "arb", "arb_Arab":
		return "ar", true
	case "de", "deu", "deu_Latn":
		return "de", true
	case "el", "ell", "ell_Grek":
		return "el", true
	case "en", "eng", "eng_Latn":
		return "en", true
	case "es", "spa", "spa_Latn":
		return "es", true
	case "hi", "hin", "hin_Deva":
		return "hi", true
	case "ru", "rus", "rus_Cyrl":
		return "ru", true
	case "th", "tha", "tha_Thai":
		return "th", true
	case "tr", "tur", "tur_Latn":
		return "tr", true
	case "vi", "vie", "vie_Latn":
		return "vi", true
	case "zh", "zho", "zho-CN", "zho_Hans":
		return "zh", true
	}
	return "", false
}
