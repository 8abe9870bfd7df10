package train

/*
#include "engine.h"
*/
import "C"

import "time"

// profile accumulates a worker's time per node and pass, and in loading and the loss.
type profile struct {
	fwd, bwd   []time.Duration
	load, loss time.Duration
	fold       time.Duration            // folding the per-lane weight-gradient sums
	parts      map[string]time.Duration // parts of a Conv2D's or Dense's backward pass
}

func newProfile(nodes int) *profile {
	return &profile{fwd: make([]time.Duration, nodes), bwd: make([]time.Duration, nodes),
		parts: map[string]time.Duration{}}
}

// mark adds the time since *t to the profile's part name.
func (w *worker) mark(name string, t *time.Time) {
	if w.prof != nil {
		w.prof.parts[name] += w.tick(t)
	}
}

// tick returns the time since *t and sets *t to now (zero without a profile). The clock is
// the calling thread's CPU time (the profiles pin one thread; a shared machine's other jobs
// then do not count).
func (w *worker) tick(t *time.Time) time.Duration {
	if w.prof == nil {
		return 0
	}
	now := time.Unix(0, int64(C.train_thread_ns()))
	d := now.Sub(*t)
	*t = now
	return d
}
