package sinks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"xling/internal/testenv"
)

// randomRows are n embedding rows of 256 random floats: about 1 KiB each that Snappy cannot shrink.
func randomRows(rng *rand.Rand, from, n int) []EmbeddingRow {
	rows := make([]EmbeddingRow, n)
	for i := range rows {
		v := make([]float32, 256)
		for j := range v {
			v[j] = rng.Float32()
		}
		rows[i] = EmbeddingRow{RunID: "r", Model: "m", Dataset: "d", ItemID: fmt.Sprintf("en/c/%d", from+i), Lang: "en", Kind: "candidate", Vector: v}
	}
	return rows
}

// A table written onto a disk that fills fails with an error naming the table and ENOSPC, and leaves
// nothing in the directory: no table at its path, no temporary file. Whether the disk fills while row
// groups are written or only when the footer is (everything buffered until Close), the result is the same.
func TestATableOnAFullDiskFailsNamingItAndLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rowGroupRows int64
	}{
		{"full while writing row groups", 16},
		{"full at close", 0}, // the default row group holds every row until Close
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := testenv.SmallDisk(t, 256<<10)
			path := filepath.Join(dir, "embeddings.parquet")
			w, err := Create[EmbeddingRow](path, Options{RowGroupRows: tc.rowGroupRows})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			// 1 MiB of rows, four times the disk.
			for i := 0; i < 1024 && err == nil; i += 64 {
				err = w.Write(randomRows(rng, i, 64)...)
			}
			wrote := err != nil
			if err == nil {
				_, err = w.Close()
			}
			if err == nil {
				t.Fatal("the table was committed on a 256 KiB disk")
			}
			t.Logf("failed in %s: %v", map[bool]string{true: "Write", false: "Close"}[wrote], err)
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no space left on device") {
				t.Errorf("err = %v\nwant ENOSPC (no space left on device) naming %s", err, path)
			}
			if _, err := w.Close(); err == nil {
				t.Error("Close after the failure committed the table")
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("left on the disk: %s", e.Name())
			}
		})
	}
}
