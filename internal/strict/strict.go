// Package strict parses the numbers of command lines and lists strictly: plain decimal
// notation only — no trailing text ("2abc"), no second number ("3 4"), no NaN or Inf, no hex,
// octal or binary forms, no digit separators — and values that fit their type.
package strict

import (
	"errors"
	"math"
	"regexp"
	"strconv"
)

var (
	floatRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
	intRE   = regexp.MustCompile(`^[+-]?[0-9]+$`)
)

// ErrSyntax: not a number in decimal notation.
var ErrSyntax = errors.New("not a number")

// ErrRange: a number too large (or too small) for its type.
var ErrRange = errors.New("out of range")

// Float parses a finite decimal number such as 2, -0.5, 1e-3 or .25.
func Float(s string) (float64, error) {
	if !floatRE.MatchString(s) {
		return 0, ErrSyntax
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, ErrRange
	}
	return v, nil
}

// Float32 parses a decimal number that float32 holds: finite, and not rounded to zero (or to
// a subnormal) when it is not zero.
func Float32(s string) (float32, error) {
	v, err := Float(s)
	if err != nil {
		return 0, err
	}
	if a := math.Abs(v); a > math.MaxFloat32 || a != 0 && a < 0x1p-126 {
		return 0, ErrRange
	}
	return float32(v), nil
}

// Int parses a decimal integer that int holds.
func Int(s string) (int, error) {
	if !intRE.MatchString(s) {
		return 0, ErrSyntax
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, ErrRange
	}
	return v, nil
}

// Int64 parses a decimal integer that int64 holds.
func Int64(s string) (int64, error) {
	if !intRE.MatchString(s) {
		return 0, ErrSyntax
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, ErrRange
	}
	return v, nil
}
