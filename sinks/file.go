// Package sinks writes xling's outputs: Parquet tables (embeddings, rankings, metrics, training batches)
// and the JSON run manifest that records how they were made.
//
// Every output is written to a hidden temporary file beside its destination and renamed into place only
// when it is complete, so a file at a final path is always whole: an aborted writer, a failed write or a
// killed process leaves at most a hidden ".<name>.tmp-*" file, which neither "*.parquet" nor
// "*.json" matches. A writer holds a lock on its temporary file (internal/filelock) until it is renamed,
// so SweepTemps can remove what killed writers left without touching a live writer's.
package sinks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"

	"xling/internal/filelock"
)

// OutputFile describes a committed output, as recorded in the run manifest.
type OutputFile struct {
	Path   string `json:"path"`
	Rows   int64  `json:"rows"` // Parquet rows; 0 for files that are not tables
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // hex
}

// File is an output file that appears at its path only once committed. It hashes what it writes so
// that the manifest needs no second pass over the file.
type File struct {
	path string
	tmp  *os.File
	name string // tmp's path
	sum  hash.Hash
	n    int64
	done bool // committed or aborted
}

// CreateFile starts a file to be committed at path, writing meanwhile to a hidden temporary file in
// path's directory (a rename within one directory is atomic).
func CreateFile(path string) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Made under another name, then locked, then renamed: a file matching tmpPattern is always either
	// locked by its writer or left by a dead one.
	tmp, err := os.CreateTemp(dir, "."+base+".new-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	name := filepath.Join(dir, "."+base+".tmp-"+strings.TrimPrefix(filepath.Base(tmp.Name()), "."+base+".new-"))
	if err = filelock.Lock(tmp); err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{path: path, tmp: tmp, name: name, sum: sha256.New()}, nil
}

// tmpPattern matches the temporary files of outputs in a directory.
const tmpPattern = ".*.tmp-*"

// SweepTemps removes the temporary files in dir that killed writers left (no live process holds their
// lock) and returns their paths. A live writer's file, in this process or another, is kept.
func SweepTemps(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, tmpPattern))
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, name := range names {
		stale, release, err := filelock.Stale(name)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) { // committed or aborted meanwhile
				errs = append(errs, fmt.Errorf("sweep %s: %w", name, err))
			}
			continue
		}
		if !stale {
			continue
		}
		err = os.Remove(name)
		release()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("sweep %s: %w", name, err))
			continue
		}
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// Write appends p to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("write %s: %w", f.path, os.ErrClosed)
	}
	n, err := f.tmp.Write(p)
	f.sum.Write(p[:n])
	f.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", f.path, err)
	}
	return n, nil
}

// Commit syncs the temporary file and renames it to the final path. On failure the temporary file is
// removed and nothing appears at the final path.
func (f *File) Commit() (OutputFile, error) {
	if f.done {
		return OutputFile{}, fmt.Errorf("commit %s: %w", f.path, os.ErrClosed)
	}
	if err := f.commit(); err != nil {
		return OutputFile{}, errors.Join(fmt.Errorf("commit %s: %w", f.path, err), f.Abort())
	}
	f.done = true
	// Make the rename itself durable; the file is already whole, so a failure here is not worth failing for.
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return OutputFile{Path: f.path, Bytes: f.n, SHA256: hex.EncodeToString(f.sum.Sum(nil))}, nil
}

func (f *File) commit() error {
	if err := f.tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := f.tmp.Sync(); err != nil {
		return err
	}
	// Renamed while still open, so still locked: a sweeper never finds the temporary file unlocked.
	if err := os.Rename(f.name, f.path); err != nil {
		return err
	}
	f.tmp.Close() // synced and in place: a failed close loses nothing
	return nil
}

// Abort removes the temporary file. It does nothing after Commit or a previous Abort, so callers may
// defer it right after CreateFile.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	f.tmp.Close() // may already be closed by a failed commit; the removal is what matters
	if err := os.Remove(f.name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("abort %s: %w", f.path, err)
	}
	return nil
}
