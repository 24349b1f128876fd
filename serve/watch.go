package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"xling/dataset"
	"xling/encoder"
)

// stamp is what a scan sees of a file without reading it.
type stamp struct {
	size int64
	mod  time.Time
}

// watcher tells which files have settled, and their digests, reading each file once per change.
type watcher struct {
	prev, cur map[string]stamp // at the previous scan, and at this one
	sums      map[string]summed
	specs     map[string]loaded // by model path: Load parses a tokenizer, too slow to repeat every scan
	checked   map[string]error  // by SHA-256: what reading a dataset file gave (nil: it is good)
}

type loaded struct {
	spec   encoder.Spec
	stamps []stamp
}

// load resolves the model at path, again only when one of its files changed.
func (w *watcher) load(path string) (encoder.Spec, error) {
	stamps := func(files []string) []stamp {
		out := make([]stamp, len(files))
		for i, f := range files {
			if fi, err := os.Stat(f); err == nil {
				out[i] = stamp{fi.Size(), fi.ModTime()}
			}
		}
		return out
	}
	if l, ok := w.specs[path]; ok && slices.Equal(stamps(l.spec.Files), l.stamps) {
		return l.spec, nil
	}
	spec, err := encoder.Load(path)
	if err != nil {
		delete(w.specs, path)
		return spec, err
	}
	w.specs[path] = loaded{spec, stamps(spec.Files)}
	return spec, nil
}

type summed struct {
	stamp
	sha string
}

func newWatcher() *watcher {
	return &watcher{prev: map[string]stamp{}, cur: map[string]stamp{}, sums: map[string]summed{}, specs: map[string]loaded{}, checked: map[string]error{}}
}

// next starts a scan.
func (w *watcher) next() { w.prev, w.cur = w.cur, map[string]stamp{} }

// settled reports whether path is as the previous scan saw it: a file still being copied in changes
// between scans, so it waits.
func (w *watcher) settled(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	st := stamp{fi.Size(), fi.ModTime()}
	w.cur[path] = st
	return w.prev[path] == st, nil
}

// sha returns the SHA-256 of path, read again only when its stamp changed.
func (w *watcher) sha(path string) (string, error) {
	st, ok := w.cur[path]
	if s, have := w.sums[path]; ok && have && s.stamp == st {
		return s.sha, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	w.sums[path] = summed{st, sum}
	return sum, nil
}

// datasetView is a dataset's settled language files as one scan found them.
type datasetView struct {
	name    string
	files   map[string]string // lang -> SHA-256
	waiting []string          // files not settled yet
}

func (v datasetView) langs() []string { return slices.Sorted(maps.Keys(v.files)) }

// version is a digest of the files of langs: the dataset's version as rows name it.
func version(files map[string]string) string {
	h := sha256.New()
	for _, l := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s %s\n", l, files[l])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// scanDataset lists dataset's settled, readable files. A file that does not read (a half-copied file, a
// broken record) is put in bad with why, and left out until it changes; a file named like a language file
// with a bad code is in err (beside the good files).
func (w *watcher) scanDataset(dir, name string, bad map[string]error) (datasetView, error) {
	v := datasetView{name: name, files: map[string]string{}}
	files, derr := dataset.Discover(dir, name, nil)
	for _, f := range files {
		ok, err := w.settled(f.Path)
		if err != nil {
			continue // gone since Discover listed it
		}
		if !ok {
			v.waiting = append(v.waiting, f.Path)
			continue
		}
		sum, err := w.sha(f.Path)
		if err != nil {
			continue
		}
		rerr, checked := w.checked[sum]
		if !checked {
			_, rerr = f.Read(dataset.Options{})
			w.checked[sum] = rerr
		}
		if rerr != nil {
			bad[f.Path] = rerr
			continue
		}
		v.files[f.Lang] = sum
	}
	return v, derr
}

var modelName = regexp.MustCompile(`^[\p{L}\p{N}_+-][\p{L}\p{N}._+-]*$`)

// modelView is a model as a scan found it: an ONNX file written by xling or a model directory.
type modelView struct {
	name, path, version string
	digests             map[string]string // SHA-256 of each of its files, by path
}

// scanModels lists the settled models of dir; what is not a usable model goes in bad, by path, with why.
func (w *watcher) scanModels(dir string, bad map[string]error) (models []modelView, waiting []string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		bad[dir] = err
		return nil, nil
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || (!e.IsDir() && filepath.Ext(e.Name()) != ".onnx") {
			continue // a model is an .onnx file or a directory; anything else (a README, a partial download) is not
		}
		spec, err := w.load(path)
		if err != nil {
			bad[path] = err
			continue
		}
		if !modelName.MatchString(spec.Name) {
			// The name becomes a folder and goes into the current view's SQL: letters, digits, . _ + - only.
			bad[path] = fmt.Errorf("model name %q: want letters, digits, '.', '_', '+' or '-' only", spec.Name)
			continue
		}
		h := sha256.New()
		digests := map[string]string{}
		settled := true
		for _, f := range spec.Files {
			ok, err := w.settled(f)
			if err != nil {
				bad[path] = err
				settled = false
				break
			}
			if !ok {
				settled = false
				continue
			}
			sum, err := w.sha(f)
			if err != nil {
				bad[path] = err
				settled = false
				break
			}
			fmt.Fprintf(h, "%s %s\n", filepath.Base(f), sum)
			digests[f] = sum
		}
		if _, isBad := bad[path]; isBad {
			continue
		}
		if !settled {
			waiting = append(waiting, path)
			continue
		}
		if i := slices.IndexFunc(models, func(m modelView) bool { return m.name == spec.Name }); i >= 0 {
			// Two versions under one name would each replace the other's results at every scan.
			bad[path] = fmt.Errorf("model name %q is taken by %s", spec.Name, models[i].path)
			continue
		}
		models = append(models, modelView{name: spec.Name, path: path, version: hex.EncodeToString(h.Sum(nil))[:16], digests: digests})
	}
	slices.SortFunc(models, func(a, b modelView) int { return strings.Compare(a.name, b.name) })
	return models, waiting
}
