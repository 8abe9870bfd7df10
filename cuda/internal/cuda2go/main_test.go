package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerated regenerates the bindings from kernels.cu in memory and compares them with the
// files in the tree: after editing kernels.cu, run `go generate ./cuda`.
func TestGenerated(t *testing.T) {
	src, err := os.ReadFile("../../kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(src)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("../..", name))
		if err != nil {
			t.Fatalf("%v (run `go generate ./cuda`)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("cuda/%s is stale: kernels.cu has changed since it was generated; run `go generate ./cuda`", name)
		}
	}
}

func TestParse(t *testing.T) {
	s, err := Parse([]byte(`
#define GN_A 12 /* twelve */
#define GN_LONG_NAME 3
// extern "C" __global__ void k_commented(int a) {}
/* extern "C" __global__ void k_commented2(int a) {} */
extern "C" __global__ void __launch_bounds__(GN_A)
k_two_words(float *__restrict__ out, const float * x, i64 n,
            int C) {}
extern "C" __global__ void k_conv2d(const double *p, int *q) {}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Kernels) != 2 || s.Kernels[0].Name != "k_two_words" || s.Kernels[1].Name != "k_conv2d" {
		t.Fatalf("kernels %+v", s.Kernels)
	}
	want := []Param{{"out", "float *"}, {"x", "const float *"}, {"n", "i64"}, {"C", "int"}}
	for i, p := range s.Kernels[0].Params {
		if p != want[i] {
			t.Fatalf("parameter %d is %+v, want %+v", i, p, want[i])
		}
	}
	if len(s.Consts) != 2 || s.Consts[0] != (Const{"GN_A", 12, "twelve"}) || s.Consts[1].Name != "GN_LONG_NAME" {
		t.Fatalf("constants %+v", s.Consts)
	}
	for c, g := range map[string]string{"k_two_words": "kTwoWords", "k_conv2d": "kConv2D", "GN_A": "A", "GN_LONG_NAME": "LongName", "GN_SUM_ROWS": "SumRows"} {
		if goName(c) != g {
			t.Errorf("goName(%s) = %s, want %s", c, goName(c), g)
		}
	}
	if _, err := GenerateGo(s); err != nil {
		t.Fatal(err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`extern "C" __global__ void k_a(float x) {}`, `type "float"`},
		{`extern "C" __global__ void k_a(unsigned *x) {}`, `type "unsigned *"`},
		{`extern "C" __global__ void k_a(int x, int x) {}`, "listed twice"},
		{`extern "C" __global__ void k_a(int x) {} extern "C" __global__ void k_a(int y) {}`, "defined twice"},
		{`extern "C" __global__ int k_a(int x) {}`, "0 parsed"},
		{`#define GN_A 1`, "no extern"},
	} {
		_, err := Parse([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.src, err, c.want)
		}
	}
}
