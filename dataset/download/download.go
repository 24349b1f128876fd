// Package download fetches the datasets xling reads from their upstream repositories, pinned to commits
// and checked against SHA-256 digests, for users without a shared copy.
package download

import (
	"bytes"
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

	// Bitext, when set, makes the file side Side (0 or 1) of a bitext derived from upstream files in Repo
	// at Commit, in place of a copy of Source.
	Bitext *Bitext
	Side   int
}

// URL is where the file is fetched from under base ("" means the host's public server).
func (f File) URL(base string) string {
	return f.sourceURL(base, f.Source)
}

// sourceURL is where the file at source in f's repository and commit is fetched from under base.
func (f File) sourceURL(base, source string) string {
	if f.Host == HuggingFace {
		if base == "" {
			base = HuggingFaceBaseURL
		}
		return strings.TrimSuffix(base, "/") + "/datasets/" + f.Repo + "/resolve/" + f.Commit + "/" + source
	}
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimSuffix(base, "/") + "/" + f.Repo + "/" + f.Commit + "/" + source
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
// renamed into place, so a failed or interrupted download never leaves a partial or wrong file. A file
// with a Bitext is derived from its upstream parts, each checked against its own digest before use.
func (d *Downloader) Fetch(ctx context.Context, dir string, files []File) error {
	derived := map[*Bitext][2][]byte{} // both sides of a bitext come from one download
	for _, f := range files {
		if err := d.fetch(ctx, dir, f, derived); err != nil {
			return err
		}
	}
	return nil
}

func (d *Downloader) fetch(ctx context.Context, dir string, f File, derived map[*Bitext][2][]byte) error {
	rel := filepath.FromSlash(f.Path)
	if f.Path == "" || path.Clean(f.Path) != f.Path || !filepath.IsLocal(rel) {
		return fmt.Errorf("download %q: path is not inside the destination", f.Path)
	}
	if len(f.SHA256) != sha256.Size*2 {
		return fmt.Errorf("download %s: no valid SHA-256 in the manifest", f.Path)
	}
	if f.Bitext != nil && f.Side != 0 && f.Side != 1 {
		return fmt.Errorf("download %s: bitext side %d, want 0 or 1", f.Path, f.Side)
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
	tmp := rel + ".part"
	from := f.URL(d.BaseURL)
	if f.Bitext != nil {
		from = fmt.Sprintf("%d upstream files", 2*len(f.Bitext.Parts))
		err = d.writeDerived(ctx, root, tmp, f, derived)
	} else {
		err = d.get(ctx, root, tmp, from, f.SHA256)
	}
	if err != nil {
		_ = root.Remove(tmp) // best effort: the error that matters is the download's
		return fmt.Errorf("download %s from %s: %w", f.Path, from, err)
	}
	if err := root.Rename(tmp, rel); err != nil {
		_ = root.Remove(tmp)
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	log.Info("dataset file downloaded", "path", f.Path, "from", from)
	return nil
}

// writeDerived writes side f.Side of f.Bitext into root/tmp and checks its digest, deriving the bitext
// unless this Fetch already has.
func (d *Downloader) writeDerived(ctx context.Context, root *os.Root, tmp string, f File, derived map[*Bitext][2][]byte) error {
	sides, ok := derived[f.Bitext]
	if !ok {
		var err error
		if sides, err = d.derive(ctx, f); err != nil {
			return err
		}
		derived[f.Bitext] = sides
	}
	return d.write(root, tmp, bytes.NewReader(sides[f.Side]), f.SHA256)
}

// get writes the body at url into root/tmp and checks its digest.
func (d *Downloader) get(ctx context.Context, root *os.Root, tmp, url, want string) error {
	body, err := d.open(ctx, url)
	if err != nil {
		return err
	}
	defer body.Close()
	return d.write(root, tmp, body, want)
}

// download returns the body at url, checked against its digest.
func (d *Downloader) download(ctx context.Context, url, want string) ([]byte, error) {
	body, err := d.open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var buf bytes.Buffer
	if err := d.copyChecked(&buf, body, want); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// open sends a GET for url and returns the body of a 200 response.
func (d *Downloader) open(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
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
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	return resp.Body, nil
}

// write copies r into root/tmp, synced, and checks its digest.
func (d *Downloader) write(root *os.Root, tmp string, r io.Reader, want string) error {
	out, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	err = d.copyChecked(out, r, want)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyChecked copies at most MaxBytes from r to w and checks the digest of what it copied.
func (d *Downloader) copyChecked(w io.Writer, r io.Reader, want string) error {
	limit := d.MaxBytes
	if limit <= 0 {
		limit = 256 << 20
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if n > limit {
		return fmt.Errorf("body larger than %d bytes", limit)
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
