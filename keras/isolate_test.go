package keras

import (
	"time"

	"goodnet/internal/isolate"
)

// Fuzz seeds include files that make libhdf5 loop: a child gets 5 s here (plenty for the
// small files of the tests) rather than the 20 s a user's file gets.
func init() { isolate.Timeout = func(int64) time.Duration { return 5 * time.Second } }
