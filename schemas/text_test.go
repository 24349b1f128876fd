package schemas

import "testing"

func TestControlChar(t *testing.T) {
	for _, tc := range []struct {
		text string
		want rune
		bad  bool
	}{
		{"plain text", 0, false},
		{"tab\tnewline\ncr\r", 0, false},
		{"nul\x00inside", 0, true},
		{"bell\a", 7, true},
		{"escape \x1b[31mred", 0x1b, true},
		{"del\x7f", 0x7f, true},
		{"zero\u200bwidth\u200djoiner\ufeff", 0, false},
		{"right-to-left \u202eoverride\u202c and mark \u200f", 0, false},
		{"C1 \u0081 as in XQuAD-R", 0, false},
		{"", 0, false},
	} {
		got, bad := ControlChar(tc.text)
		if got != tc.want || bad != tc.bad {
			t.Errorf("ControlChar(%q) = %U, %v; want %U, %v", tc.text, got, bad, tc.want, tc.bad)
		}
	}
}
