package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Dataset names accepted by Files.
const (
	XQuADR = "xquad-r" // LAReQA's XQuAD-R: SQuAD JSON with sentence breaks
	MLQAR  = "mlqa-r"  // LAReQA's MLQA-R: same layout
	XQuAD  = "xquad"   // raw XQuAD: SQuAD JSON, sentences split by SplitSentences
)

// knownLang reports whether the readers accept a language code; dataset text never chooses one.
func knownLang(l string) bool {
	switch l {
	case "ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh":
		return true
	}
	return false
}

// Langs returns the language codes a dataset ships, in file-name order.
func Langs(name string) ([]string, error) {
	switch name {
	case XQuADR, XQuAD:
		return []string{"ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"}, nil
	case MLQAR:
		return []string{"ar", "de", "en", "es", "hi", "vi", "zh"}, nil
	}
	return nil, fmt.Errorf("unknown dataset %q (want %s, %s or %s)", name, XQuADR, MLQAR, XQuAD)
}

// File is one language file of a dataset.
type File struct {
	Dataset string
	Lang    string
	Path    string
}

// Files describes the files of dataset name under dir for langs (nil: every language the dataset has).
// It checks names and languages only; reading happens in File.Read, one file at a time.
func Files(dir, name string, langs []string) ([]File, error) {
	have, err := Langs(name)
	if err != nil {
		return nil, err
	}
	if langs == nil {
		langs = have
	}
	files := make([]File, 0, len(langs))
	seen := make(map[string]bool, len(langs))
	for _, l := range langs {
		if !knownLang(l) {
			return nil, fmt.Errorf("dataset %s: unknown language code %q", name, l)
		}
		if !contains(have, l) {
			return nil, fmt.Errorf("dataset %s has no language %q", name, l)
		}
		if seen[l] {
			return nil, fmt.Errorf("dataset %s: language %q listed twice", name, l)
		}
		seen[l] = true
		base := l + ".json"
		if name == XQuAD {
			base = "xquad." + l + ".json"
		}
		files = append(files, File{Dataset: name, Lang: l, Path: filepath.Join(dir, name, base)})
	}
	return files, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Options bound and relax reading.
type Options struct {
	// MaxTextBytes bounds every text (context, sentence, question, id); 0 means 64 KiB.
	MaxTextBytes int
	// MaxFileBytes bounds the file; 0 means 64 MiB.
	MaxFileBytes int64
	// Partial skips records that break a rule, listing them in Result.Skipped, instead of failing.
	// A file that is not well-formed JSON of the expected shape fails either way.
	Partial bool
}

func (o Options) withDefaults() Options {
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 64 << 10
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 64 << 20
	}
	return o
}

// Result is what Read makes of one file.
type Result struct {
	Items   []Item
	SHA256  string  // hex digest of the bytes read, for the run manifest
	Skipped []error // with Options.Partial: one *RecordError per skipped record
}

// RecordError says which record of which file broke which rule.
type RecordError struct {
	File   string
	Record string // e.g. data[3].paragraphs[2].qas[5].question
	Msg    string
}

func (e *RecordError) Error() string { return e.File + ": " + e.Record + ": " + e.Msg }

// Read reads and validates the file. Without Options.Partial the first broken record fails the whole
// file and no items are returned.
func (f File) Read(opts Options) (Result, error) {
	opts = opts.withDefaults()
	if !knownLang(f.Lang) {
		return Result{}, fmt.Errorf("read %s: unknown language code %q", f.Path, f.Lang)
	}
	data, err := readBounded(f.Path, opts.MaxFileBytes)
	if err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(data)
	p := parser{file: f, opts: opts, seen: make(map[string]bool)}
	if err := p.parse(data); err != nil {
		return Result{}, err
	}
	if len(p.skipped) > 0 && !opts.Partial {
		return Result{}, p.skipped[0]
	}
	return Result{Items: p.items, SHA256: hex.EncodeToString(sum[:]), Skipped: p.skipped}, nil
}

func readBounded(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("read %s: file larger than %d bytes", path, max)
	}
	return data, nil
}

// ErrSyntax marks a file that is not well-formed JSON of the expected shape.
var ErrSyntax = errors.New("malformed dataset file")
