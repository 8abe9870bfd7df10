#include <stdint.h>

// The instruction-set variants, indexed as goodnet/internal/simd's ISA values.
enum { SWEEP_PORTABLE = 0, SWEEP_AVX2 = 1, SWEEP_AVX512 = 2, SWEEP_ISAS = 3 };

// A reader of the cut for one step (channel c): its entries start/dst/woff (see reader in
// plan.go; dst NULL when the channel has none), kernel w, row width, the images' n × out
// pre-activations and references, ReLU or not, its Lipschitz gain, the ℓ₁ masses of its
// updates (C × S), and per image the mass of the cut values it has removed since the
// pre-activations were last computed exactly and the mass it held then.
typedef struct {
	const int32_t *start, *dst, *woff;
	const float *w;
	float *pre, *ref;
	int width, out, relu;
	double gain;
	const double *mass;
	double *removed, *total;
} sweep_rd;

// The dispatched kernels (sweep_kernels.h) take the variant first.
void sweep_top(int isa, int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
               int32_t *pred, double *slack);
int sweep_step(int isa, int m, const int32_t *idx, const float *pc, int S, int C, int c, int nr, const sweep_rd *rd,
               const double *slack, double safety, double rebase, int32_t *out, int32_t *reb, int *nreb);
void sweep_act_rows(int isa, int m, const int32_t *idx, const float *pre, float *ref, int out, int relu);
uint64_t sweep_calls(int isa);

int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx);
void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask);
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx);
void sweep_channel_major(int n, const float *p, int S, int C, float *pc);
void sweep_mass(int lo, int hi, const float *pc, int S, int C, int nr, const sweep_rd *rd);
void sweep_rows(int m, const int32_t *idx, const float *ref, int out, float *feed);
