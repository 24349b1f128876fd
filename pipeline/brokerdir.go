package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"xling/internal/filelock"
)

const (
	// brokerDirPrefix names the data directories of Connect's embedded broker, under os.TempDir().
	brokerDirPrefix = "xling-broker-"
	// brokerOwner is the lock file in each, held by the process whose broker it is (internal/filelock).
	brokerOwner = "owner.lock"
)

// brokerDir makes a data directory for Connect's embedded broker under root, and marks it as this
// process's. It first removes the directories of processes that were killed: Close removes a broker's
// directory, but a process killed with SIGKILL never gets to, and the topics left there can be gigabytes.
// release gives the directory up; call it once the directory is removed.
func brokerDir(root string, log *slog.Logger) (dir string, release func(), err error) {
	sweepBrokerDirs(root, log)
	if dir, err = os.MkdirTemp(root, brokerDirPrefix); err != nil {
		return "", nil, fmt.Errorf("embedded broker: %w", err)
	}
	owner, err := filelock.Create(filepath.Join(dir, brokerOwner))
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("embedded broker: %w", err)
	}
	return dir, func() { owner.Close() }, nil
}

// sweepBrokerDirs removes root's embedded broker directories that no live process owns, and returns them.
// A directory without an owner lock is left alone: an older xling's, or one whose Connect has not locked
// it yet.
func sweepBrokerDirs(root string, log *slog.Logger) []string {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, brokerDirPrefix+"*"))
	var removed []string
	for _, dir := range dirs {
		stale, release, err := filelock.Stale(filepath.Join(dir, brokerOwner))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				log.Warn("embedded broker: cannot tell whether a directory is in use; left alone", "dir", dir, "err", err)
			}
			continue
		}
		if !stale {
			continue
		}
		err = os.RemoveAll(dir)
		release()
		if err != nil {
			log.Warn("embedded broker: remove the directory of a killed process", "dir", dir, "err", err)
			continue
		}
		log.Info("embedded broker: removed the directory of a killed process", "dir", dir)
		removed = append(removed, dir)
	}
	return removed
}
