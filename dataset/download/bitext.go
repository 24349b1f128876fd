package download

import (
	"bytes"
	"context"
	"fmt"
)

// Bitext is a line-aligned pair of files derived from upstream files rather than copied: each side is its
// upstream files concatenated in order, less every line where either side is empty. The File entries of
// its two sides share one *Bitext, so that one Fetch downloads its parts once for both.
type Bitext struct {
	Parts [][2]Part // aligned upstream files in concatenation order; the two of a pair have as many lines
}

// Part is one upstream file of a Bitext, at the repository and commit of the File that derives from it.
type Part struct {
	Source string // path inside the repository
	SHA256 string // hex digest of the content
}

// derive downloads every part of f.Bitext, each checked against its digest, and returns both sides.
func (d *Downloader) derive(ctx context.Context, f File) ([2][]byte, error) {
	var out [2]bytes.Buffer
	for _, pair := range f.Bitext.Parts {
		var lines [2][][]byte
		for side, p := range pair {
			url := f.sourceURL(d.BaseURL, p.Source)
			body, err := d.download(ctx, url, p.SHA256)
			if err != nil {
				return [2][]byte{}, fmt.Errorf("upstream %s from %s: %w", p.Source, url, err)
			}
			lines[side] = splitLines(body)
		}
		if len(lines[0]) != len(lines[1]) {
			return [2][]byte{}, fmt.Errorf("upstream %s has %d lines, %s %d: not line-aligned",
				pair[0].Source, len(lines[0]), pair[1].Source, len(lines[1]))
		}
		for i := range lines[0] {
			if len(lines[0][i]) == 0 || len(lines[1][i]) == 0 {
				continue
			}
			for side := range out {
				out[side].Write(lines[side][i])
				out[side].WriteByte('\n')
			}
		}
	}
	return [2][]byte{out[0].Bytes(), out[1].Bytes()}, nil
}

// splitLines splits b at '\n'; a last line without one still counts.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}
