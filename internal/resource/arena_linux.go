package resource

/*
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>

// Address space is what an address-space limit (prlimit --as, ulimit -v) counts, and a Go
// program reserves most of what it uses before touching it, so two glibc defaults matter:
//
// One malloc arena: glibc otherwise gives each thread that mallocs its own arena and reserves
// 64 MB of address space for each. goodnet's C code allocates little (its engines' buffers
// come from Go), so contention does not matter.
//
// Thread stacks of 2 MB, not RLIMIT_STACK's 8 MB: every thread of a cgo program (the Go
// runtime's Ms included) is a pthread with the default stack, and a busy machine makes the
// runtime start more of them (goroutines wait longer in system calls and C calls), so at 8 MB
// each a run under a limit could lose to new threads the room its checks counted on. goodnet's
// C code (the engines' kernels, libhdf5, zlib) keeps at most tens of KB on the stack.
__attribute__((constructor)) static void goodnet_address_space(void) {
	mallopt(M_ARENA_MAX, 1);
	pthread_attr_t a;
	if (pthread_attr_init(&a) == 0) {
		if (pthread_attr_setstacksize(&a, 2 << 20) == 0)
			pthread_setattr_default_np(&a);
		pthread_attr_destroy(&a);
	}
}
*/
import "C"
