package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"xling/domain"
	"xling/internal/confine"
)

// Dataset names accepted by Discover and Files.
const (
	XQuADR = "xquad-r" // LAReQA's XQuAD-R: SQuAD JSON with sentence breaks, <code>.json
	MLQAR  = "mlqa-r"  // LAReQA's MLQA-R: same layout
	XQuAD  = "xquad"   // raw XQuAD: SQuAD JSON, xquad.<code>.json, sentences split by SplitSentences
)

// File is one language file of a dataset.
type File struct {
	Dataset string
	Lang    string // an ISO 639-1 code that domain.ParseLang accepted
	Path    string
}

// Companion reports whether a file name is documentation that ships beside data (a licence, a README, a
// citation): expected in a data folder, so not worth a warning when it is not data.
func Companion(name string) bool {
	upper := strings.ToUpper(name)
	for _, doc := range []string{"LICENSE", "LICENCE", "README", "CITATION", "NOTICE", "COPYING", "AUTHORS", "DATA."} {
		if strings.HasPrefix(upper, doc) {
			return true
		}
	}
	return false
}

// Discover lists the language files of dataset name in dir/name, in code order: a dataset's languages are
// the files present, named <code>.json (XQuAD-R, MLQA-R) or xquad.<code>.json (raw XQuAD) with code any
// ISO 639-1 code (domain.ParseLang). Other entries — directories, backups, stray files — are skipped with
// a warning on log that names the file and why (log nil: no warnings); licences and READMEs, which belong
// beside data, are skipped quietly (Companion).
//
// A file named like a language file whose code is malformed or unknown is an error naming the file.
// Discover still returns the good files beside that error, so a long-running caller can carry on with
// them; Files fails instead.
func Discover(dir, name string, log *slog.Logger) ([]File, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pattern, ok := filePatterns[name]
	if !ok {
		return nil, fmt.Errorf("unknown dataset %q (want %s, %s or %s)", name, XQuADR, MLQAR, XQuAD)
	}
	folder := filepath.Join(dir, name)
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	var files []File
	var bad []error
	for _, e := range entries {
		path := filepath.Join(folder, e.Name())
		code, ok := pattern.code(e.Name())
		if !ok && Companion(e.Name()) {
			log.Debug("dataset companion file", "dataset", name, "file", path)
			continue
		}
		if !ok {
			log.Warn("dataset file skipped", "dataset", name, "file", path, "reason", "not named "+pattern.String())
			continue
		}
		if !isRegular(path, e) {
			log.Warn("dataset file skipped", "dataset", name, "file", path, "reason", "not a regular file")
			continue
		}
		// A link may bring in a file from elsewhere in the data directory, never from outside it.
		if _, err := confine.Path(dir, filepath.Join(name, e.Name())); err != nil {
			bad = append(bad, fmt.Errorf("dataset %s: %w", name, err))
			continue
		}
		lang, err := domain.ParseLang(code)
		if err != nil {
			bad = append(bad, fmt.Errorf("dataset %s: %s: %w", name, path, err))
			continue
		}
		files = append(files, File{Dataset: name, Lang: string(lang), Path: path})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Lang, b.Lang) })
	return files, errors.Join(bad...)
}

// filePattern is how a dataset names its language files: prefix + code + ".json".
type filePattern struct{ prefix string }

var filePatterns = map[string]filePattern{XQuADR: {}, MLQAR: {}, XQuAD: {prefix: "xquad."}}

func (p filePattern) String() string { return p.prefix + "<code>.json" }

func (p filePattern) code(base string) (string, bool) {
	rest, ok := strings.CutPrefix(base, p.prefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, ".json")
}

// isRegular follows a symbolic link: shared data is often linked in.
func isRegular(path string, e os.DirEntry) bool {
	if e.Type().IsRegular() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// Langs returns the languages present in any of the named datasets under dir, sorted, as Discover finds
// them; a malformed language file fails it.
func Langs(dir string, names []string, log *slog.Logger) ([]string, error) {
	var langs []string
	for _, name := range names {
		files, err := Discover(dir, name, log)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			langs = append(langs, f.Lang)
		}
	}
	slices.Sort(langs)
	return slices.Compact(langs), nil
}

// Files selects langs (nil: every language present) from the files Discover finds, and fails on any
// file Discover rejects. It checks names and languages only; reading happens in File.Read.
func Files(dir, name string, langs []string, log *slog.Logger) ([]File, error) {
	have, err := Discover(dir, name, log)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("dataset %s: no language files (%s) in %s", name, filePatterns[name], filepath.Join(dir, name))
	}
	if langs == nil {
		return have, nil
	}
	files := make([]File, 0, len(langs))
	seen := make(map[string]bool, len(langs))
	for _, l := range langs {
		if _, err := domain.ParseLang(l); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", name, err)
		}
		i := slices.IndexFunc(have, func(f File) bool { return f.Lang == l })
		if i < 0 {
			return nil, fmt.Errorf("dataset %s has no language %q in %s", name, l, filepath.Join(dir, name))
		}
		if seen[l] {
			return nil, fmt.Errorf("dataset %s: language %q listed twice", name, l)
		}
		seen[l] = true
		files = append(files, have[i])
	}
	return files, nil
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
	var res Result
	sum, err := f.Scan(opts, func(it Item) error {
		res.Items = append(res.Items, it)
		return nil
	}, func(e *RecordError) error {
		res.Skipped = append(res.Skipped, e)
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	res.SHA256 = sum
	return res, nil
}

// Scan reads and validates the file as Read does, streaming it: each item goes to emit as soon as its
// paragraph is read, so memory holds one paragraph (and the question ids met so far, to refuse a
// duplicate) rather than the file. With Options.Partial each broken record goes to skip (nil: dropped);
// without, the first ends the scan with its error. An error from emit or skip ends it too. Scan returns
// the hex SHA-256 of the file.
//
// A malformed file is an error whatever was emitted before it; the error is then worked out from the
// whole file (at most MaxFileBytes), so it names the line and column.
func (f File) Scan(opts Options, emit func(Item) error, skip func(*RecordError) error) (string, error) {
	opts = opts.withDefaults()
	if _, err := domain.ParseLang(f.Lang); err != nil {
		return "", fmt.Errorf("read %s: %w", f.Path, err)
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", f.Path, err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() > opts.MaxFileBytes {
		return "", fmt.Errorf("read %s: file larger than %d bytes", f.Path, opts.MaxFileBytes)
	}
	h := sha256.New()
	r := &boundedReader{r: io.TeeReader(fh, h), left: opts.MaxFileBytes}
	p := parser{file: f, opts: opts, seen: map[string]struct{}{}, emit: emit,
		reject: func(e *RecordError) error {
			if !opts.Partial {
				return e
			}
			if skip == nil {
				return nil
			}
			return skip(e)
		},
		whole: func() ([]byte, error) { return readBounded(f.Path, opts.MaxFileBytes) }}
	if err := p.scan(r); err != nil {
		return "", err
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // the digest covers every byte
		return "", fmt.Errorf("read %s: %w", f.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errTooLarge is what boundedReader returns past its limit.
var errTooLarge = errors.New("file over the size limit")

// boundedReader fails a read that goes past left bytes.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(buf []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(buf)) > b.left+1 {
		buf = buf[:b.left+1]
	}
	n, err := b.r.Read(buf)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errTooLarge
	}
	return n, err
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
