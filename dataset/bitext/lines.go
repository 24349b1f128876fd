package bitext

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// lineReader reads lines of at most max bytes without holding more than that in memory.
type lineReader struct {
	br  *bufio.Reader
	max int
}

func newLineReader(f io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(f, max+2), max: max} // +2 for "\r\n"
}

// next returns the next line without its line end, or tooLong (and the rest of the line discarded),
// or io.EOF after the last line.
func (r *lineReader) next() (line string, tooLong bool, err error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.br.ReadSlice('\n')
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return "", true, err
	}
	if errors.Is(err, io.EOF) {
		if len(b) == 0 {
			return "", false, io.EOF
		}
		err = nil
	}
	if err != nil {
		return "", false, err
	}
	b = b[:len(b)-len(trailingEOL(b))]
	if len(b) > r.max {
		return "", true, nil
	}
	return string(b), false, nil
}

func trailingEOL(b []byte) []byte {
	switch {
	case len(b) >= 2 && b[len(b)-2] == '\r' && b[len(b)-1] == '\n':
		return b[len(b)-2:]
	case len(b) >= 1 && b[len(b)-1] == '\n':
		return b[len(b)-1:]
	}
	return nil
}

// readLines reads a part of line-aligned text files in lock step: line n of every file is one group.
func (r *reader) readLines(p part) error {
	lrs := make([]*lineReader, len(p.files))
	for i, lf := range p.files {
		f, err := os.Open(lf.path)
		if err != nil {
			return fmt.Errorf("read %s corpus: %w", r.corpus, err)
		}
		defer f.Close()
		lrs[i] = newLineReader(f, r.opt.MaxLineBytes)
	}
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := r.ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", p.files[0].path, err)
			}
		}
		text := make(map[string]string, len(p.files))
		ended := -1
		for i, lr := range lrs {
			line, tooLong, err := lr.next()
			if errors.Is(err, io.EOF) {
				if i > 0 && ended < 0 {
					return misaligned(p.files[i].path, n-1, p.files[0].path)
				}
				ended = i
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s:%d: %w", p.files[i].path, n, err)
			}
			if ended >= 0 {
				return misaligned(p.files[ended].path, n-1, p.files[i].path)
			}
			if err := r.check(line, tooLong); err != nil {
				if !r.opt.Skip {
					return fmt.Errorf("%s:%d: %w", p.files[i].path, n, err)
				}
				r.st.SkippedLines++
				continue
			}
			text[p.files[i].lang] = line
		}
		if ended >= 0 {
			return nil
		}
		if err := r.emit(r.groupID(p.name, n), text); err != nil {
			return err
		}
	}
}

func misaligned(short string, lines int, long string) error {
	return fmt.Errorf("%s: %d lines, but aligned file %s has more (line %d)", short, lines, long, lines+1)
}

// readCSV reads a part of stsb CSV files in lock step: record n of every file gives two groups, one per
// sentence column. The score column must agree across languages, which catches misaligned files.
func (r *reader) readCSV(p part) error {
	crs := make([]*csv.Reader, len(p.files))
	for i, lf := range p.files {
		f, err := os.Open(lf.path)
		if err != nil {
			return fmt.Errorf("read %s corpus: %w", r.corpus, err)
		}
		defer f.Close()
		cr := csv.NewReader(&boundedLines{r: f, max: 2*r.opt.MaxLineBytes + 64, path: lf.path})
		cr.FieldsPerRecord = 3
		crs[i] = cr
	}
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := r.ctx.Err(); err != nil {
				return fmt.Errorf("read %s: %w", p.files[0].path, err)
			}
		}
		texts := [2]map[string]string{make(map[string]string, len(p.files)), make(map[string]string, len(p.files))}
		ended := -1
		var score string
		for i, cr := range crs {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				if i > 0 && ended < 0 {
					return fmt.Errorf("%s: %d records, but aligned file %s has more (record %d)", p.files[i].path, n-1, p.files[0].path, n)
				}
				ended = i
				continue
			}
			if err != nil {
				return fmt.Errorf("read %s record %d: %w", p.files[i].path, n, err)
			}
			line, _ := cr.FieldPos(0)
			if ended >= 0 {
				return fmt.Errorf("%s: %d records, but aligned file %s has more (record %d, line %d)", p.files[ended].path, n-1, p.files[i].path, n, line)
			}
			if i == 0 {
				score = strings.TrimSpace(rec[2])
			} else if s := strings.TrimSpace(rec[2]); s != score {
				return fmt.Errorf("%s:%d: score %q, but %s record %d has %q: files misaligned", p.files[i].path, line, s, p.files[0].path, n, score)
			}
			for col := range 2 {
				if err := r.check(rec[col], len(rec[col]) > r.opt.MaxLineBytes); err != nil {
					if !r.opt.Skip {
						return fmt.Errorf("%s:%d: sentence%d: %w", p.files[i].path, line, col+1, err)
					}
					r.st.SkippedLines++
					continue
				}
				texts[col][p.files[i].lang] = rec[col]
			}
		}
		if ended >= 0 {
			return nil
		}
		for col, text := range texts {
			if err := r.emit(fmt.Sprintf("%s/%d", r.groupID(p.name, n), col+1), text); err != nil {
				return err
			}
		}
	}
}

// boundedLines fails a read once a record runs past max bytes (room for two sentences and a score), so that
// encoding/csv, which holds a whole record in memory, cannot be made to hold an unbounded one. A record
// ends at a '\n' outside quotes: in CSV that encoding/csv accepts (no bare quotes), a quote opens or closes
// a quoted field or is one of a doubled pair, so an odd count of quotes means a quoted field is open.
type boundedLines struct {
	r      io.Reader
	max    int
	run    int  // bytes since the last record end
	quoted bool // inside a quoted field
	path   string
}

func (b *boundedLines) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	for _, c := range p[:n] {
		b.run++
		switch {
		case c == '"':
			b.quoted = !b.quoted
		case c == '\n' && !b.quoted:
			b.run = 0
		}
		if b.run > b.max {
			return 0, fmt.Errorf("%s: record longer than %d bytes", b.path, b.max)
		}
	}
	return n, err
}
