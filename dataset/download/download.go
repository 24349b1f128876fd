// Package download fetches the datasets xling reads from their upstream repositories, pinned to commits
// and checked against SHA-256 digests, for users without a shared copy.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// DefaultBaseURL serves raw files of GitHub repositories as <base>/<owner>/<name>/<commit>/<path>.
const DefaultBaseURL = "https://raw.githubusercontent.com"

// HuggingFaceBaseURL serves files of Hugging Face dataset repositories as
// <base>/datasets/<owner>/<name>/resolve/<commit>/<path>.
const HuggingFaceBaseURL = "https://huggingface.co"

// Host says which kind of server a File comes from, and so how its URL is formed.
type Host int

const (
	GitHub      Host = iota // raw.githubusercontent.com
	HuggingFace             // a Hugging Face dataset repository
)

// File is one file of the data directory and where it comes from.
type File struct {
	Path   string // slash-separated, relative to the destination directory
	Host   Host
	Repo   string // owner/name
	Commit string // full commit hash
	Source string // path inside Repo at Commit
	SHA256 string // hex digest of the content
}

// URL is where the file is fetched from under base ("" means the host's public server).
func (f File) URL(base string) string {
	if f.Host == HuggingFace {
		if base == "" {
			base = HuggingFaceBaseURL
		}
		return strings.TrimSuffix(base, "/") + "/datasets/" + f.Repo + "/resolve/" + f.Commit + "/" + f.Source
	}
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimSuffix(base, "/") + "/" + f.Repo + "/" + f.Commit + "/" + f.Source
}

// Downloader fetches files into a directory.
type Downloader struct {
	Client   *http.Client // nil: http.DefaultClient
	BaseURL  string       // "": each file's host's public server
	Header   http.Header  // sent with every request, e.g. Authorization for a gated repository
	MaxBytes int64        // per file; 0: 256 MiB
	Logger   *slog.Logger // nil: slog.Default()
}

// Fetch makes every file present under dir with its checksum. A file already there with the right
// checksum is left alone; anything else is downloaded to a temporary file beside it, checked, and
// renamed into place, so a failed or interrupted download never leaves a partial or wrong file.
func (d *Downloader) Fetch(ctx context.Context, dir string, files []File) error {
	for _, f := range files {
		if err := d.fetch(ctx, dir, f); err != nil {
			return err
		}
	}
	return nil
}

func (d *Downloader) fetch(ctx context.Context, dir string, f File) error {
	rel := filepath.FromSlash(f.Path)
	if f.Path == "" || path.Clean(f.Path) != f.Path || !filepath.IsLocal(rel) {
		return fmt.Errorf("download %q: path is not inside the destination", f.Path)
	}
	if len(f.SHA256) != sha256.Size*2 {
		return fmt.Errorf("download %s: no valid SHA-256 in the manifest", f.Path)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	defer root.Close()

	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	if ok, err := hasSum(root, rel, f.SHA256); err != nil {
		return fmt.Errorf("download %s: check existing: %w", f.Path, err)
	} else if ok {
		log.Debug("dataset file present", "path", f.Path)
		return nil
	}
	if err := root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	url := f.URL(d.BaseURL)
	tmp := rel + ".part"
	if err := d.get(ctx, root, tmp, url, f.SHA256); err != nil {
		_ = root.Remove(tmp) // best effort: the error that matters is the download's
		return fmt.Errorf("download %s from %s: %w", f.Path, url, err)
	}
	if err := root.Rename(tmp, rel); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	log.Info("dataset file downloaded", "path", f.Path, "url", url)
	return nil
}

// get writes the body at url into root/tmp and checks its digest.
func (d *Downloader) get(ctx context.Context, root *os.Root, tmp, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range d.Header {
		req.Header[k] = v
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %s", resp.Status)
	}
	limit := d.MaxBytes
	if limit <= 0 {
		limit = 256 << 20
	}
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(resp.Body, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("body larger than %d bytes", limit)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("SHA-256 %s, want %s", got, want)
	}
	return nil
}

// hasSum reports whether root/rel exists with the given digest.
func hasSum(root *os.Root, rel, want string) (bool, error) {
	fh, err := root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false, err
	}
	return hex.EncodeToString(h.Sum(nil)) == want, nil
}
