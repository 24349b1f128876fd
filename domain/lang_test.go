package domain

import (
	"strings"
	"testing"
)

func TestParseLang(t *testing.T) {
	tests := []struct {
		in      string
		want    Lang
		wantErr string
	}{
		// Languages xling has never been told about are accepted: the table is x/text's, not ours.
		{in: "sw", want: "sw"}, {in: "am", want: "am"}, {in: "hy", want: "hy"}, {in: "ja", want: "ja"},
		{in: "en", want: "en"}, {in: "zh", want: "zh"}, {in: "tl", want: "tl"}, {in: "nb", want: "nb"},
		{in: "xx", wantErr: `unknown language code "xx"`},
		{in: "qa", wantErr: `unknown language code "qa"`},
		{in: "iw", wantErr: `deprecated language code "iw": use "he"`},
		{in: "in", wantErr: `deprecated language code "in": use "id"`},
		{in: "EN", wantErr: `malformed language code "EN"`},
		{in: "eng", wantErr: `malformed language code "eng"`},
		{in: "e1", wantErr: `malformed language code "e1"`},
		{in: "", wantErr: `malformed language code ""`},
		{in: "swahili", wantErr: `malformed language code "swahili"`},
		{in: "é", wantErr: `malformed language code "é"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLang(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLang(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseLang(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
