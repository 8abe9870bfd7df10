package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"goodnet/internal/fixtures"
)

// FuzzDecode: no byte string makes the ONNX reader panic, hang or allocate without bound; a
// model it accepts is written back by Encode and reads again as the same architecture.
// Seeds: the test graphs, the small model, and the PyTorch fixtures when present; crashers
// found are kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	_, mp := small()
	f.Add(marshal(mp))
	for gi, g := range graphs[1:] {
		b := newBuilder(int64(gi))
		out, in := g.make(b)
		f.Add(marshal(b.model(out, in...)))
	}
	if root, err := fixtures.RepoRoot(); err == nil {
		for _, name := range []string{"deepid.onnx", "preact_resnet.onnx"} {
			if data, err := os.ReadFile(filepath.Join(root, "..", "shared", "fixtures", "onnx", name)); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("a model read cannot be written: %v", err)
		}
		re, err := Decode(out)
		if err != nil {
			t.Fatalf("a model written cannot be read: %v", err)
		}
		if err := m.SameArchitecture(re); err != nil {
			t.Fatalf("written and read again: %v", err)
		}
	})
}
