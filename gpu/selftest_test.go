//go:build cuda

package gpu

import (
	"os"
	"testing"

	"goodnet/internal/fixtures"
)

// On a machine with a GPU and Go: go test -tags cuda -run SelfTest -v ./gpu (a cuda test
// binary cannot start without a usable GPU: gorgonia.org/cu's init exits).
func TestSelfTest(t *testing.T) {
	if err := SelfTest(os.Stdout, fixtures.Dir(t)); err != nil {
		t.Fatal(err)
	}
}
