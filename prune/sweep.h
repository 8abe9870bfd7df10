#include <stdint.h>
int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx);
void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask);
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx);
void sweep_top(int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
               int32_t *pred, double *slack);
void sweep_act(int64_t n, const float *pre, float *ref, int relu);

// A reader of the cut for one step (channel c): its entries start/dst/woff (see reader in
// sweep.go; dst NULL when the channel has none), kernel w, row width, the images' n × out
// pre-activations and references, ReLU or not, and its Lipschitz gain.
typedef struct {
	const int32_t *start, *dst, *woff;
	const float *w;
	float *pre, *ref;
	int width, out, relu;
	double gain;
} sweep_rd;
int sweep_step(int m, const int32_t *idx, const float *pc, int S, int C, int c, int nr,
               const sweep_rd *rd, const double *slack, double safety, int32_t *out);
void sweep_channel_major(int n, const float *p, int S, int C, float *pc);
void sweep_rows(int m, const int32_t *idx, const float *ref, int out, float *feed);
void sweep_act_rows(int m, const int32_t *idx, const float *pre, float *ref, int out, int relu);
