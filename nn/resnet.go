package nn

import "fmt"

// PreActResNet returns the architecture (without weights) of a pre-activation ResNet (He et
// al. 2016) as the backdoor benchmarks train it on CIFAR-10, for h×w×3 inputs:
//
//	conv1 (widths[0], 3×3, pad 1, no bias) → stage s = 0, 1, …: blocks[s] blocks of widths[s]
//	channels, the first of stage s > 0 with stride 2 → bn → relu → global average pooling →
//	linear (classes)
//
// and a block, with input x:
//
//	a = relu(bn1(x)); shortcut = x, or conv 1×1 (stride, no bias) of a when the shape changes;
//	out = conv2(relu(bn2(conv1(a)))) + shortcut    (conv1, conv2: 3×3, pad 1, no bias)
//
// PreActResNet(32, 32, 10, []int{64, 128, 256, 512}, []int{2, 2, 2, 2}) is PreAct-ResNet-18.
// Convolutions pad as PyTorch does (explicit 1 on every side, also with stride 2).
func PreActResNet(h, w, classes int, widths, blocks []int) *Model {
	var ls []*Layer
	add := func(l *Layer) string { ls = append(ls, l); return l.Name }
	conv := func(name, in string, filters, k, stride int) string {
		p := k / 2
		return add(&Layer{Name: name, Kind: Conv2D, InputNames: []string{in}, Size: [2]int{k, k}, Strides: [2]int{stride, stride},
			Padding: Explicit, Pad: [4]int{p, p, p, p}, Filters: filters})
	}
	bn := func(name, in string) string {
		return add(&Layer{Name: name, Kind: BatchNorm, InputNames: []string{in}, Eps: 1e-5, Scale: true, Center: true})
	}
	relu := func(name, in string) string {
		return add(&Layer{Name: name, Kind: Act, Act: ReLU, InputNames: []string{in}})
	}
	x := add(&Layer{Name: "input", Kind: Input, InShape: Shape{h, w, 3}})
	x = conv("conv1", x, widths[0], 3, 1)
	cin := widths[0]
	for s, width := range widths {
		for b := 0; b < blocks[s]; b++ {
			stride := 1
			if s > 0 && b == 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d.", s+1, b)
			a := relu(p+"relu1", bn(p+"bn1", x))
			short := x
			if stride != 1 || cin != width {
				short = conv(p+"shortcut", a, width, 1, stride)
			}
			y := conv(p+"conv1", a, width, 3, stride)
			y = relu(p+"relu2", bn(p+"bn2", y))
			y = conv(p+"conv2", y, width, 3, 1)
			x = add(&Layer{Name: p + "add", Kind: Add, InputNames: []string{y, short}})
			cin = width
		}
	}
	x = relu("relu", bn("bn", x))
	x = add(&Layer{Name: "avgpool", Kind: GlobalAvgPool, InputNames: []string{x}})
	add(&Layer{Name: "linear", Kind: Dense, InputNames: []string{x}, Units: classes, UseBias: true})
	m, err := New("preact_resnet", ls, "input", "linear")
	if err != nil {
		panic("nn: PreActResNet: " + err.Error())
	}
	return m
}
