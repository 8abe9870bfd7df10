package simd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestBest(t *testing.T) {
	all := Supported()
	if len(all) == 0 || all[0] != Portable {
		t.Fatalf("supported %v: portable must be", all)
	}
	t.Setenv(Env, "")
	if b := Best(); b != all[len(all)-1] {
		t.Errorf("best %v, want %v", b, all[len(all)-1])
	}
	for _, i := range all {
		for _, name := range []string{i.String(), strings.ToUpper(i.String()), strings.ReplaceAll(strings.ToLower(i.String()), "-", "")} {
			t.Setenv(Env, name)
			if b := Best(); b != i {
				t.Errorf("%s=%s: %v", Env, name, b)
			}
		}
	}
	t.Setenv(Env, "sse9")
	if b := Best(); b != all[len(all)-1] {
		t.Errorf("an unknown name: %v", b)
	}
}

// TestTargets checks that every C source with kernel variants compiles them with Targets, in
// the variants' order of the ISA values (the dispatch tables' index).
func TestTargets(t *testing.T) {
	re := regexp.MustCompile(`#pragma GCC target\("([^"]+)"\)`)
	for _, f := range []string{"../../host/engine.c", "../../prune/sweep.c"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			got = append(got, m[1])
		}
		want := []string{Targets[AVX2], Targets[AVX512]}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: targets %q, want %q", filepath.Base(f), got, want)
		}
		clang := regexp.MustCompile(`target\("([^"]+)"\)\)\), apply_to`)
		got = nil
		for _, m := range clang.FindAllStringSubmatch(string(b), -1) {
			got = append(got, m[1])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: clang targets %q, want %q", filepath.Base(f), got, want)
		}
	}
}
