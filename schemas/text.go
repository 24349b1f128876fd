package schemas

// ControlChar returns the first character of s that has no place in a text field: NUL, the other C0
// controls but tab, line feed and carriage return, and DEL. They carry no meaning in a question or a
// sentence, NUL ends strings in C libraries and PostgreSQL refuses it, and ESC starts terminal escape
// sequences. Format characters (zero-width spaces and joiners, bidirectional marks and overrides, the
// byte-order mark) and the C1 controls are left alone: the published datasets contain them (XQuAD-R has
// U+200B, U+200F, U+FEFF and U+0081), and zero-width joiners are part of how some scripts are written.
func ControlChar(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f {
			return r, true
		}
	}
	return 0, false
}
