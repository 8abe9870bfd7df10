package cuda

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// kernelSignatures parses the extern "C" __global__ kernels of kernels.cu into their
// parameter kinds ('p' pointer, 'i' int, 'l' i64).
func kernelSignatures(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("../kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`extern "C" __global__ void(?:\s+__launch_bounds__\(\d+\))?\s+(k_\w+)\(([^)]*)\)`)
	sigs := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		var kinds []byte
		for _, p := range strings.Split(m[2], ",") {
			p = strings.Join(strings.Fields(p), " ")
			switch {
			case strings.Contains(p, "*"):
				kinds = append(kinds, 'p')
			case strings.HasPrefix(p, "i64 "):
				kinds = append(kinds, 'l')
			case strings.HasPrefix(p, "int "):
				kinds = append(kinds, 'i')
			default:
				t.Fatalf("%s: parameter %q of an unknown type", m[1], p)
			}
		}
		sigs[m[1]] = string(kinds)
	}
	if n := strings.Count(string(src), `extern "C" __global__`); n != len(sigs) {
		t.Fatalf(`kernels.cu has %d extern "C" kernels, %d parsed`, n, len(sigs))
	}
	return sigs
}

func TestArgsMatchKernels(t *testing.T) {
	sigs := kernelSignatures(t)
	launches := map[string]*args{
		"k_relu":                reluArgs(1, 2, 3),
		"k_add":                 addArgs(1, 2, 3, 4),
		"k_merge":               mergeArgs(1, 2, 3, 4, 5),
		"k_conv2d":              conv2dArgs(1, 2, 3, 4, ConvShape{}, 5),
		"k_dense":               denseArgs(1, 2, 3, 4, DenseShape{}, 5),
		"k_maxpool":             maxpoolArgs(1, 2, PoolShape{}, 3),
		"k_argmax":              argmaxArgs(1, 2, 3, 4),
		"k_channel_sum_partial": sumPartialArgs(1, 2, 3, 4),
		"k_channel_sum_finish":  sumFinishArgs(1, 2, 3, 4),
		"k_zero_channels":       zeroChannelsArgs(1, 2, 3, 4, 5, 6),
	}
	if len(kernelNames) != len(sigs) || len(launches) != len(sigs) {
		t.Fatalf("kernels.cu has %d kernels, kernelNames %d, launchers %d", len(sigs), len(kernelNames), len(launches))
	}
	for _, name := range kernelNames {
		sig, ok := sigs[name]
		if !ok {
			t.Fatalf("kernel %s is not in kernels.cu", name)
		}
		if got := string(launches[name].kinds); got != sig {
			t.Errorf("%s: launcher passes %q, kernels.cu takes %q", name, got, sig)
		}
	}
}

func TestArgSlots(t *testing.T) {
	a := new(args).i32(-2).i64(-3).ptr(0xdeadbeef).flag(true)
	want := []uint64{0xfffffffe, 0xfffffffffffffffd, 0xdeadbeef, 1}
	for i, w := range want {
		if a.v[i] != w {
			t.Fatalf("slot %d = %#x, want %#x", i, a.v[i], w)
		}
	}
}
