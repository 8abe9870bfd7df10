package esc

import "testing"

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"conv_1":                     "conv_1",
		"/data/modèles/面.h5":         "/data/modèles/面.h5",
		`C:\models\b.h5`:             `C:\models\b.h5`,
		"a\nb":                       `a\nb`,
		"x\x1b[2J\x1b]0;pwned\x07":   `x\x1b[2J\x1b]0;pwned\a`,
		"tab\there":                  `tab\there`,
		"\u009b31m":                  `\u009b31m`,
		"evil\u202etxt.h5":           `evil\u202etxt.h5`,
		"line\u2028sep":              `line\u2028sep`,
		"bad\xffbyte":                `bad\xffbyte`,
		"del\x7f":                    `del\x7f`,
		"nbsp\u00a0":                 `nbsp\u00a0`,
		"":                           "",
		"\x00":                       `\x00`,
		"keep \"quotes\" and spaces": "keep \"quotes\" and spaces",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}
