package strict

import (
	"errors"
	"testing"
)

func TestFloat(t *testing.T) {
	for _, s := range []string{"2", "-0.5", "+3", "1e-3", ".25", "2.", "1E6", "0", "00.5"} {
		if _, err := Float(s); err != nil {
			t.Errorf("Float(%q): %v", s, err)
		}
	}
	for s, want := range map[string]error{"2abc": ErrSyntax, "3 4": ErrSyntax, " 3": ErrSyntax, "": ErrSyntax, "NaN": ErrSyntax,
		"Inf": ErrSyntax, "-Infinity": ErrSyntax, "0x10": ErrSyntax, "1_000": ErrSyntax, "1/255": ErrSyntax, "e5": ErrSyntax,
		".": ErrSyntax, "1e": ErrSyntax, "1e400": ErrRange, "-1e400": ErrRange} {
		if _, err := Float(s); !errors.Is(err, want) {
			t.Errorf("Float(%q): %v, want %v", s, err, want)
		}
	}
	for s, want := range map[string]error{"1e-50": ErrRange, "1e39": ErrRange, "1e-39": ErrRange, "3.4e38": nil, "1.2e-38": nil, "0": nil} {
		if _, err := Float32(s); !errors.Is(err, want) {
			t.Errorf("Float32(%q): %v, want %v", s, err, want)
		}
	}
}

func TestInt(t *testing.T) {
	for s, want := range map[string]error{"3": nil, "-3": nil, "+7": nil, "007": nil, "3.0": ErrSyntax, "3 4": ErrSyntax,
		"0x10": ErrSyntax, "1_000": ErrSyntax, "1e3": ErrSyntax, "": ErrSyntax, "99999999999999999999": ErrRange} {
		if _, err := Int(s); !errors.Is(err, want) {
			t.Errorf("Int(%q): %v, want %v", s, err, want)
		}
	}
}
