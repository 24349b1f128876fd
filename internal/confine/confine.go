// Package confine keeps paths named by data inside the directory that holds the data: a dataset file, a
// model directory's xling.json entry, and every symbolic link on the way to what they name.
package confine

import (
	"fmt"
	"path/filepath"
)

// Path returns root joined with name if name is relative, has no ".." that climbs out of root, and,
// symbolic links followed, names something that exists inside root. The error names both.
func Path(root, name string) (string, error) {
	if !filepath.IsLocal(name) {
		return "", fmt.Errorf("%q is not a path inside %s", name, root)
	}
	path := filepath.Join(root, name)
	realRoot, err := realPath(root)
	if err != nil {
		return "", err
	}
	real, err := realPath(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err) // err may name a link's missing target, not path
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%s leads out of %s (to %s)", path, root, real)
	}
	return path, nil
}

// realPath is path made absolute with every symbolic link resolved.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
