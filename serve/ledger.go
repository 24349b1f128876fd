package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// An Update is one evaluation serve finished: a model on a dataset's new languages (or, when Full, on all of
// them). The ledger is the list of updates, one JSON line each, appended and synced only once the
// update's tables and scorer snapshot are in place: what it lists is done, and nothing else is.
type Update struct {
	Seq            int               `json:"seq"`
	RunID          string            `json:"run_id"`
	Model          string            `json:"model"`
	ModelVersion   string            `json:"model_version"` // digest of the model's files
	ModelPath      string            `json:"model_path"`
	Dataset        string            `json:"dataset"`
	DatasetVersion string            `json:"dataset_version"` // digest of Files
	Files          map[string]string `json:"files"`           // every language of the dataset after the update -> its file's SHA-256
	Added          []string          `json:"added"`           // languages evaluated by this update
	Full           bool              `json:"full"`            // every language evaluated afresh (first sight, new model version or changed data)
	Settings       int               `json:"settings"`        // language-pair settings scored (monolingual and cross-lingual)
	Pools          int               `json:"pools"`           // multilingual pool settings scored (one per query language)
	Snapshot       string            `json:"snapshot"`        // the scorer's state after the update, relative to the state directory
	Started        time.Time         `json:"started"`
	Finished       time.Time         `json:"finished"`
}

type ledger struct {
	path    string
	updates []Update
}

func openLedger(path string) (*ledger, error) {
	l := &ledger{path: path}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	good := 0 // bytes of whole, parsed lines
	for line := 1; good < len(data); line++ {
		n := bytes.IndexByte(data[good:], '\n')
		var u Update
		if n < 0 || json.Unmarshal(data[good:good+n], &u) != nil {
			if n < 0 || good+n+1 == len(data) {
				break // the last line, cut short by a crash mid-append: the update it began is not done
			}
			return nil, fmt.Errorf("ledger %s: line %d is not an update", path, line)
		}
		l.updates = append(l.updates, u)
		good += n + 1
	}
	if good < len(data) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, fmt.Errorf("ledger %s: drop a torn last line: %w", path, err)
		}
	}
	return l, nil
}

// append writes u as the ledger's next line and syncs it.
func (l *ledger) append(u Update) error {
	b, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ledger %s: append: %w", l.path, err)
	}
	l.updates = append(l.updates, u)
	return nil
}

// latest returns the newest update of model on dataset, if any.
func (l *ledger) latest(model, dataset string) (Update, bool) {
	for i := len(l.updates) - 1; i >= 0; i-- {
		if u := l.updates[i]; u.Model == model && u.Dataset == dataset {
			return u, true
		}
	}
	return Update{}, false
}

// current returns the updates whose rows make model's current view of dataset: the newest full update
// and every update after it, oldest first.
func (l *ledger) current(model, dataset string) []Update {
	var out []Update
	for _, u := range l.updates {
		if u.Model != model || u.Dataset != dataset {
			continue
		}
		if u.Full {
			out = out[:0]
		}
		out = append(out, u)
	}
	return out
}
