package cuda

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// named maps parameter names to the value each builder must put there. fields adds a shape's
// fields, each by its Go name (H, OW, …; the flag ReLU is the kernels' relu).
type named map[string]int64

func (n named) fields(shape any) named {
	v := reflect.ValueOf(shape)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		if f.Kind() == reflect.Bool {
			name = strings.ToLower(name)
			n[name] = map[bool]int64{false: 0, true: 1}[f.Bool()]
		} else {
			n[name] = f.Int()
		}
	}
	return n
}

// TestCallsByName checks every launcher's argument list by the parameter names of kernels.cu:
// each Go value is distinct, and the slot of parameter "OW" must hold ConvShape.OW, the slot
// of "bprime" the B' pointer, and so on — two swapped int arguments fail here.
func TestCallsByName(t *testing.T) {
	conv := ConvShape{H: 101, W: 102, C: 103, OH: 104, OW: 105, O: 106, KH: 107, KW: 108, SH: 109, SW: 110, PT: 111, PL: 112, ReLU: true}
	dense := DenseShape{K: 201, O: 202, ReLU: true}
	pool := PoolShape{H: 301, W: 302, C: 303, OH: 304, OW: 305, KH: 306, KW: 307, SH: 308, SW: 309, PT: 310, PL: 311}
	sums := ChannelSumCalls(0x5001, 0x5002, 0x5003, 3000, 77, 9)
	cases := []struct {
		call Call
		want named
	}{
		{ReLUCall(0x1001, 0x1002, 1003, 9), named{"out": 0x1001, "x": 0x1002, "n": 1003}},
		{AddCall(0x2001, 0x2002, 0x2003, 2004, 9), named{"out": 0x2001, "a": 0x2002, "b": 0x2003, "n": 2004}},
		{MergeCall(0x3001, 0x3002, 0x3003, 3004, 1283, 9), named{"out": 0x3001, "b": 0x3002, "bprime": 0x3003, "n": 3004, "flag": 1283}},
		{Conv2DCall(0x4001, 0x4002, 0x4003, 0x4004, conv, 7), named{"out": 0x4001, "x": 0x4002, "w": 0x4003, "b": 0x4004, "n": 7}.fields(conv)},
		{DenseCall(0x6001, 0x6002, 0x6003, 0x6004, dense, 8), named{"out": 0x6001, "x": 0x6002, "w": 0x6003, "b": 0x6004, "n": 8}.fields(dense)},
		{MaxPoolCall(0x7001, 0x7002, pool, 9, 9), named{"out": 0x7001, "x": 0x7002, "n": 9}.fields(pool)},
		{ArgmaxCall(0x8001, 0x8002, 8003, 1283), named{"out": 0x8001, "x": 0x8002, "rows": 8003, "k": 1283}},
		{sums[0], named{"partial": 0x5002, "x": 0x5003, "rows": 3000, "C": 77}},
		{sums[1], named{"acc": 0x5001, "partial": 0x5002, "blocks": 3, "C": 77}},
	}
	covered := map[Kernel]bool{}
	for _, c := range cases {
		k := c.call.Kernel
		covered[k] = true
		params := k.Params()
		if c.call.NArgs != len(params) {
			t.Fatalf("%s: %d arguments for %d parameters", k, c.call.NArgs, len(params))
		}
		used := map[string]bool{}
		for i, p := range params {
			want, ok := c.want[p.Name]
			if !ok {
				t.Errorf("%s: parameter %d %q has no counterpart in the launcher's inputs %v", k, i, p.Name, c.want)
				continue
			}
			used[p.Name] = true
			if got := c.call.Arg(i); got != want {
				t.Errorf("%s: parameter %d %q gets %d, want %d", k, i, p.Name, got, want)
			}
		}
		for name := range c.want {
			if !used[name] { // every input of the launcher reaches the kernel
				t.Errorf("%s: the launcher's %q reaches no parameter", k, name)
			}
		}
	}
	for _, k := range Kernels() {
		if !covered[k] {
			t.Errorf("kernel %s has no launcher test", k)
		}
	}
}

func TestArgSlots(t *testing.T) {
	c := kMerge(0xdeadbeef, 2, 3, -3, -2)
	want := []uint64{0xdeadbeef, 2, 3, 0xfffffffffffffffd, 0xfffffffe}
	for i, w := range want {
		if c.Args[i] != w {
			t.Fatalf("slot %d = %#x, want %#x", i, c.Args[i], w)
		}
	}
	if c.Arg(4) != -2 || c.Arg(3) != -3 {
		t.Fatalf("Arg: %d, %d", c.Arg(3), c.Arg(4))
	}
}

func TestLaunches(t *testing.T) {
	conv := ConvShape{H: 55, W: 47, C: 3, OH: 52, OW: 44, O: 20, KH: 4, KW: 4, SH: 1, SW: 1}
	for _, c := range []struct {
		got, want Launch
	}{
		{Conv2DCall(1, 2, 3, 4, conv, 12830).Launch, Launch{(12830*52*44 + 63) / 64, 1, 256, 1}},
		{DenseCall(1, 2, 3, 4, DenseShape{K: 160, O: 1283}, 100).Launch, Launch{2, 41, 256, 1}},
		{ArgmaxCall(1, 2, 17, 5).Launch, Launch{3, 1, 256, 1}},
		{ReLUCall(1, 2, 1<<20, 7).Launch, Launch{7, 1, 256, 1}},
		{ReLUCall(1, 2, 10, 7).Launch, Launch{1, 1, 256, 1}},
		{ChannelSumCalls(1, 2, 3, 2049, 33, 7)[0].Launch, Launch{3, 2, 32, 8}},
	} {
		if c.got != c.want {
			t.Errorf("launch %+v, want %+v", c.got, c.want)
		}
	}
	if (Launch{GX: 1 << 31, GY: 1}).check("x") == nil || (Launch{GX: 1, GY: 65536}).check("x") == nil || (Launch{GX: 1, GY: 1}).check("x") != nil {
		t.Fatal("grid limits")
	}
}

// TestFatbinCheck: Init refuses a fatbin compiled from another kernels.cu.
func TestFatbinCheck(t *testing.T) {
	h := SourceHash()
	if len(h) != 64 {
		t.Fatalf("SourceHash %q", h)
	}
	for _, ok := range []string{h, h + "  cuda/kernels.cu\nnvcc: release 11.8\n", strings.ToUpper(h) + "\n"} {
		if err := checkFatbin(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	other := strings.Repeat("0", 64)
	for _, bad := range []string{other, "", "abc", other + "  kernels.cu\n"} {
		err := checkFatbin(bad)
		if !errors.Is(err, ErrStaleFatbin) || !strings.Contains(err.Error(), "make cuda") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
	// the source embedded is kernels.cu itself
	src, err := os.ReadFile("kernels.cu")
	if err != nil {
		t.Fatal(err)
	}
	if string(src) != source {
		t.Fatal("the embedded source differs from kernels.cu")
	}
}
