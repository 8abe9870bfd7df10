package resource

/*
#include <malloc.h>

// One malloc arena: glibc otherwise gives each thread that mallocs its own arena and reserves
// 64 MB of address space for each, which under an address-space limit (prlimit --as) leaves
// a Go program of a dozen threads no room. goodnet's C code allocates little (its engines'
// buffers come from Go), so contention does not matter.
__attribute__((constructor)) static void goodnet_one_arena(void) { mallopt(M_ARENA_MAX, 1); }
*/
import "C"
