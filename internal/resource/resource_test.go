package resource

import (
	"runtime"
	"testing"
)

var sink []byte

// Fit and Check agree on garbage: where Check finds room for an item after collecting, Fit
// does not say that none fits (predict --set then wrapped Check's nil error: "%!w(<nil>)").
func TestFitCollectsBeforeSayingNone(t *testing.T) {
	defer SetMemory(0)
	runtime.GC()
	base := InUse()
	const per = 64 << 20
	SetMemory(base + per + per/2) // room for one item once the garbage is gone
	sink = make([]byte, per)
	for i := range sink {
		sink[i] = 1
	}
	sink = nil // garbage, still counted until a collection
	if n := Fit(0, per, 4); n != 1 {
		t.Errorf("Fit = %d with %d MB of garbage and room for one item of %d MB after a collection, want 1", n, per>>20, per>>20)
	}
	if err := Check(per, "one item"); err != nil {
		t.Errorf("Check: %v", err)
	}
	if n := Fit(0, 4*per, 4); n != 0 {
		t.Errorf("Fit = %d for items larger than the limit, want 0", n)
	}
}
