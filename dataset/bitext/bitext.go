// Package bitext reads sentence-aligned corpora (Tatoeba, NTREX-128, FLORES-200, stsb-multi-mt) as parallel
// groups: the same sentence in two or more languages, keyed by corpus and line, streamed one group at a time.
package bitext

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"xling/dataset"
	"xling/domain"
	"xling/internal/confine"
)

// DefaultMaxLineBytes bounds a line (a CSV field for stsb) when Options.MaxLineBytes is 0; the longest line
// of the shared copies is under 4 KiB.
const DefaultMaxLineBytes = 16 << 10

// Group is one aligned line: the same sentence in every language that has it.
type Group struct {
	// ID is unique within a corpus: "<corpus>/<part>:<line>" (line from 1; "<corpus>:<line>" for corpora of
	// one part), with "/1" or "/2" appended for the two sentences of an stsb record.
	ID     string
	Corpus string
	Text   map[string]string // ISO 639-1 code (domain.ParseLang) -> sentence
}

// Options says what to keep and how to treat bad input.
type Options struct {
	// Holdout languages (ISO 639-1) are removed from every group, e.g. the zero-shot languages of an experiment.
	Holdout []string
	// Skip counts bad input in Stats instead of failing: bad lines (empty, too long, not UTF-8) lose that
	// language from their group, and files with an unknown language code or no aligned partner are left out.
	// Misaligned files (different line counts, stsb scores that differ) fail even so: every group after
	// the fault would pair wrong sentences.
	Skip bool
	// MaxLineBytes bounds a line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Log gets a warning naming every file left out and why (READMEs, and with Skip bad files); nil: none.
	Log *slog.Logger
}

// Stats counts what a Read passed on and what it left out.
type Stats struct {
	Groups       int // groups passed to the callback
	SkippedLines int // bad lines left out (Skip)
	SkippedFiles int // files left out (Skip)
	Dropped      int // groups left with fewer than two languages by Holdout or skipped lines
}

// Corpus is one aligned corpus in a directory laid out as in the shared data (see DATA.md).
type Corpus struct {
	Name   string // "tatoeba", "ntrex", "flores200", "stsb"
	Dir    string
	layout layout
}

type layout int

const (
	tatoebaLayout layout = iota // eng-xxx.eng / eng-xxx.xxx pairs, one part per pair
	langLayout                  // one file per language, all line-aligned: <code><ext>
	stsbLayout                  // stsb-<code>-<split>.csv, one part per split
)

// Tatoeba is the Tatoeba Challenge test set: English–X pairs eng-xxx.eng / eng-xxx.xxx.
func Tatoeba(dir string) Corpus { return Corpus{Name: "tatoeba", Dir: dir, layout: tatoebaLayout} }

// NTREX is NTREX-128: <code>.txt, line-aligned across all languages.
func NTREX(dir string) Corpus { return Corpus{Name: "ntrex", Dir: dir, layout: langLayout} }

// FLORES is FLORES-200 devtest: <code>_<Script>.devtest, line-aligned across all languages.
func FLORES(dir string) Corpus { return Corpus{Name: "flores200", Dir: dir, layout: langLayout} }

// STSB is stsb-multi-mt: stsb-<code>-<split>.csv records "sentence1,sentence2,score", aligned by record
// across languages; each sentence column is parallel text.
func STSB(dir string) Corpus { return Corpus{Name: "stsb", Dir: dir, layout: stsbLayout} }

// part is one set of mutually aligned files.
type part struct {
	name  string
	files []langFile // sorted by lang
}

type langFile struct {
	lang, path string
}

// Read streams the corpus's groups to fn in file and line order, stopping at the first error fn returns.
func (c Corpus) Read(ctx context.Context, opt Options, fn func(Group) error) (Stats, error) {
	var st Stats
	for _, l := range opt.Holdout {
		if _, err := domain.ParseLang(l); err != nil {
			return st, fmt.Errorf("read %s corpus: holdout: %w", c.Name, err)
		}
	}
	parts, err := c.parts(opt, &st)
	if err != nil {
		return st, err
	}
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultMaxLineBytes
	}
	r := &reader{ctx: ctx, corpus: c.Name, opt: opt, st: &st, fn: fn}
	for _, p := range parts {
		if c.layout == stsbLayout {
			err = r.readCSV(p)
		} else {
			err = r.readLines(p)
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// parts finds the corpus's files and groups them into aligned parts, in name order.
func (c Corpus) parts(opt Options, st *Stats) ([]part, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("read %s corpus: %w", c.Name, err)
	}
	byPart := map[string][]langFile{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		path := filepath.Join(c.Dir, name)
		partName, code, ok := c.split(name)
		if !ok && dataset.Companion(name) {
			log.Debug("bitext companion file", "corpus", c.Name, "file", path)
			continue
		}
		if !ok {
			log.Warn("bitext file skipped", "corpus", c.Name, "file", path, "reason", "not named "+c.pattern())
			continue
		}
		if _, err := confine.Path(c.Dir, name); err != nil {
			return nil, fmt.Errorf("read %s corpus: %w", c.Name, err)
		}
		l, err := corpusLang(code)
		if err != nil {
			if opt.Skip {
				log.Warn("bitext file skipped", "corpus", c.Name, "file", path, "reason", err.Error())
				st.SkippedFiles++
				continue
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		lang := string(l)
		for _, f := range byPart[partName] {
			if f.lang == lang {
				return nil, fmt.Errorf("%s: language %s already read from %s", path, lang, f.path)
			}
		}
		byPart[partName] = append(byPart[partName], langFile{lang: lang, path: path})
	}
	var parts []part
	for _, name := range slices.Sorted(maps.Keys(byPart)) {
		files := byPart[name]
		slices.SortFunc(files, func(a, b langFile) int { return strings.Compare(a.lang, b.lang) })
		if len(files) < 2 {
			if opt.Skip {
				log.Warn("bitext file skipped", "corpus", c.Name, "file", files[0].path, "reason", "no aligned file in another language")
				st.SkippedFiles++
				continue
			}
			return nil, fmt.Errorf("%s: no aligned file in another language", files[0].path)
		}
		if c.layout == tatoebaLayout && files[0].lang != "en" && files[1].lang != "en" {
			return nil, fmt.Errorf("%s: tatoeba part %s has no English side", files[0].path, name)
		}
		parts = append(parts, part{name: name, files: files})
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("read %s corpus: no aligned files in %s", c.Name, c.Dir)
	}
	return parts, nil
}

// pattern says how the corpus names its text files, for warnings.
func (c Corpus) pattern() string {
	switch c.layout {
	case tatoebaLayout:
		return "eng-<code>.<code>"
	case stsbLayout:
		return "stsb-<code>-<split>.csv"
	}
	return "<code>.txt or <code>.devtest"
}

// split names a file's part and language code; ok is false for files that are not the corpus's text.
func (c Corpus) split(name string) (partName, code string, ok bool) {
	switch c.layout {
	case tatoebaLayout:
		// eng-deu.eng and eng-deu.deu: part eng-deu, codes eng and deu.
		base, ext, found := strings.Cut(name, ".")
		if !found || !strings.HasPrefix(base, "eng-") {
			return "", "", false
		}
		return base, ext, true
	case langLayout:
		ext := filepath.Ext(name)
		if ext != ".txt" && ext != ".devtest" {
			return "", "", false
		}
		return "", strings.TrimSuffix(name, ext), true
	case stsbLayout:
		// stsb-de-train.csv: part train, code de.
		rest, found := strings.CutPrefix(name, "stsb-")
		if !found || !strings.HasSuffix(rest, ".csv") {
			return "", "", false
		}
		code, split, found := strings.Cut(strings.TrimSuffix(rest, ".csv"), "-")
		return split, code, found
	}
	return "", "", false
}

// reader holds what every part's reading shares.
type reader struct {
	ctx    context.Context
	corpus string
	opt    Options
	st     *Stats
	fn     func(Group) error
}

// check validates one sentence: the error says what is wrong with it.
func (r *reader) check(s string, tooLong bool) error {
	switch {
	case tooLong:
		return fmt.Errorf("line longer than %d bytes", r.opt.MaxLineBytes)
	case strings.TrimSpace(s) == "":
		return errors.New("empty line")
	case !utf8.ValidString(s):
		return errors.New("line is not UTF-8")
	case strings.ContainsAny(s, "\r\n"):
		// Only a quoted stsb field can hold one; a text with a line end would break every line-based
		// format downstream (the LAReQA files, the logs).
		return errors.New("text holds a line end")
	}
	return nil
}

// emit applies Holdout and passes a group of at least two languages on.
func (r *reader) emit(id string, text map[string]string) error {
	for _, l := range r.opt.Holdout {
		delete(text, l)
	}
	if len(text) < 2 {
		r.st.Dropped++
		return nil
	}
	r.st.Groups++
	return r.fn(Group{ID: id, Corpus: r.corpus, Text: text})
}

func (r *reader) groupID(partName string, n int) string {
	if partName == "" {
		return fmt.Sprintf("%s:%d", r.corpus, n)
	}
	return fmt.Sprintf("%s/%s:%d", r.corpus, partName, n)
}
