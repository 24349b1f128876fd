package spm_test

import (
	"testing"

	"xling/tokenizer/spm"
	"xling/tokenizer/spm/spmtest"
)

func TestEncodeMatchesSentencePiece(t *testing.T) {
	lines := spmtest.Sentences(t, 400)
	cases := []struct {
		name string
		args []string
	}{
		{"unigram-8k-nmt_nfkc", []string{"--model_type=unigram", "--vocab_size=8000"}},
		{"bpe-8k-byte_fallback", []string{"--model_type=bpe", "--vocab_size=8000", "--byte_fallback=true"}},
	}
	var table []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := spmtest.Train(t, c.args...)
			want := spmtest.Encode(t, path, lines)
			m, err := spm.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			got := make([][]int64, len(lines))
			for i, l := range lines {
				got[i] = m.Encode(l)
			}
			same := spmtest.Compare(t, c.name, lines, got, want)
			table = append(table, spmtest.Row("spm_encode", c.name+" (.model)", len(lines), same))
			if same != len(lines) {
				t.Errorf("%d of %d lines differ from spm_encode", len(lines)-same, len(lines))
			}
		})
	}
	for _, r := range table {
		t.Log(r)
	}
}
