package keras

import (
	"archive/zip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"goodnet/internal/h5"
	"goodnet/nn"
)

// TestArchiveRoundTrip: a model with every new layer (and DeepID) written as a Keras 3 .keras
// archive reads back with the same architecture and weights; the archive holds what Keras 3
// writes (config.json with keras_history nodes, model.weights.h5 with layers/L/vars/i).
func TestArchiveRoundTrip(t *testing.T) {
	m, err := ParseConfig([]byte(modern))
	if err != nil {
		t.Fatal(err)
	}
	nn.RandomWeights(m, 5)
	d := nn.DeepID(55, 47, 30)
	nn.RandomWeights(d, 6)
	for _, mm := range []*nn.Model{m, d} {
		p := filepath.Join(t.TempDir(), "model.keras")
		if err := SaveArchive(mm, p); err != nil {
			t.Fatal(err)
		}
		if !IsArchive(p) {
			t.Fatal("not recognised as an archive")
		}
		re, err := LoadArchive(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := mm.SameArchitecture(re); err != nil {
			t.Fatal(err)
		}
		sameWeights(t, mm, re)
		if !FromArchive(re) || re.Source != p {
			t.Errorf("origin %v, source %s", re.Origin, re.Source)
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		zr.Close()
		if strings.Join(names, " ") != "metadata.json config.json model.weights.h5" {
			t.Errorf("members %v", names)
		}
	}
	// Keras 3's config, by hand: keras_history nodes, an Add of two tensors, dtype policies
	js, err := MarshalConfig3(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"class_name": "__keras_tensor__"`, `"keras_history": ["bn1", 0, 0]`, `"batch_shape": [null, 12, 10, 3]`,
		`"negative_slope": 0.20000000298023224`, `"args": [[{"class_name": "__keras_tensor__"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("config.json lacks %s", want)
		}
	}
}

// TestArchiveErrors: broken archives are one line naming the file and the problem.
func TestArchiveErrors(t *testing.T) {
	dir := t.TempDir()
	d := nn.DeepID(55, 47, 30)
	nn.RandomWeights(d, 6)
	good := filepath.Join(dir, "good.keras")
	if err := SaveArchive(d, good); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	zipOf := func(name string, members map[string][]byte) string {
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		zw := zip.NewWriter(f)
		for n, b := range members {
			w, _ := zw.Create(n)
			w.Write(b)
		}
		zw.Close()
		f.Close()
		return p
	}
	cfg, _ := MarshalConfig3(d)
	other := nn.DeepID(55, 47, 31)
	nn.RandomWeights(other, 1)
	otherFile := filepath.Join(dir, "other.keras")
	SaveArchive(other, otherFile)
	zr, _ := zip.OpenReader(otherFile)
	var otherWeights []byte
	for _, f := range zr.File {
		if f.Name == "model.weights.h5" {
			rc, _ := f.Open()
			buf := make([]byte, f.UncompressedSize64)
			n, _ := rc.Read(buf)
			for n < len(buf) {
				k, err := rc.Read(buf[n:])
				n += k
				if err != nil {
					break
				}
			}
			otherWeights = buf
			rc.Close()
		}
	}
	zr.Close()
	for _, c := range []struct{ path, want string }{
		{zipOf("noconfig.keras", map[string][]byte{"model.weights.h5": {}}), "a zip without config.json"},
		{zipOf("badjson.keras", map[string][]byte{"config.json": []byte("{"), "model.weights.h5": {}}), "config.json: not valid JSON"},
		{zipOf("noweights.keras", map[string][]byte{"config.json": cfg}), "a zip without model.weights.h5"},
		{zipOf("notweights.keras", map[string][]byte{"config.json": cfg, "model.weights.h5": []byte("text")}), "model.weights.h5"},
		{zipOf("wrongweights.keras", map[string][]byte{"config.json": cfg, "model.weights.h5": otherWeights}), `layer "output"`},
		{writeBytes(t, filepath.Join(dir, "trunc.keras"), data[:len(data)/2]), "not a valid .keras archive"},
	} {
		_, err := LoadArchive(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), c.path+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want %q", filepath.Base(c.path), err, c.want)
		}
	}
	_ = h5.Float32
}

func writeBytes(t *testing.T, p string, b []byte) string {
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
