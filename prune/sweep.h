#include <stdint.h>

// The instruction-set variants, indexed as goodnet/internal/simd's ISA values.
enum { SWEEP_PORTABLE = 0, SWEEP_AVX2 = 1, SWEEP_AVX512 = 2, SWEEP_ISAS = 3 };

// A reader of the cut (see reader in plan.go): cut value (c, s) — channel c at position s —
// adds x·w[woff[e] : woff[e] + width] to pre[dst[e] : dst[e] + width] for each entry e in
// [start[c·S+s], start[c·S+s+1]); pre starts at bias (out values). mass[c·S+s] is Σ over those
// entries of ‖w[woff[e] : woff[e] + width]‖₁. A reader's out pre-activations of image i are
// at pre + i·po + off (po: all readers' values per image); relu: its activation.
typedef struct {
	const int32_t *start, *dst, *woff;
	const float *w, *bias;
	const double *mass;
	int width, out, off, relu;
} sweep_rd;

// The dispatched kernels (sweep_kernels.h) take the variant first.
void sweep_readers(int isa, int m, const int32_t *idx, const float *p, int S, int C, const uint64_t *pruned, int nr,
                   const sweep_rd *rd, float *pre, int po, double *total, double *removed);
int sweep_update(int isa, int m, const int32_t *idx, const float *p, int S, int C, int c, int nr, const sweep_rd *rd,
                 float *pre, int po, double *total, double *removed, double rebase, int32_t *reb);
void sweep_dense(int isa, int m, const float *x, int k, const float *w, int n, const float *b, float *y, int act,
                 int32_t *nz, float *nzv, int32_t *rowp);
void sweep_act(int isa, int64_t n, const float *x, float *y, int act, float alpha);
void sweep_gather(int isa, int m, const int32_t *idx, const float *pre, int po, int off, int out, float *y, int act);
void sweep_argmax(int isa, int m, const float *z, int k, int ld, int32_t *pred);
uint64_t sweep_calls(int isa);

void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask);
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx);
int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx);
void sweep_add(int64_t n, const float *a, const float *b, float *y);
