package keras

import (
	"os"
	"testing"
	"time"

	"goodnet/internal/isolate"
)

func TestScratchLoad(t *testing.T) {
	p := os.Getenv("LOAD")
	if p == "" {
		t.Skip()
	}
	isolate.Enabled = false
	t0 := time.Now()
	m, err := LoadModel(p)
	t.Log(time.Since(t0), err, len(m.Layers))
	t0 = time.Now()
	_, err = Inspect(p)
	t.Log("inspect", time.Since(t0), err)
	t0 = time.Now()
	js, _ := MarshalConfig(m)
	t.Log("marshal", time.Since(t0), len(js))
	t0 = time.Now()
	_, err = ParseConfig(js)
	t.Log("parse", time.Since(t0), err)
}

func BenchmarkScratchParse(b *testing.B) {
	p := os.Getenv("LOAD")
	if p == "" {
		b.Skip()
	}
	isolate.Enabled = false
	m, _ := LoadModel(p)
	js, _ := MarshalConfig(m)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ParseConfig(js)
	}
}
