#include <stdint.h>
int sweep_active(int n, const float *p, int S, int C, int c, int32_t *idx);
void sweep_update(int m, const int32_t *idx, const float *p, int S, int C, int c,
                  const int32_t *start, const int32_t *dst, const int32_t *woff,
                  const float *w, int width, float *pre, int out);
void sweep_delta(int m, const int32_t *idx, const float *pre, const float *ref, int out,
                 int relu, double gain, double *bound);
void sweep_masks(int n, const float *p, int S, int C, int words, uint64_t *mask);
int sweep_active_mask(int n, const uint64_t *mask, int words, int c, int32_t *idx);
void sweep_gather(int m, const int32_t *idx, const float *pre, float *ref, int out, int relu, float *feed);
void sweep_top(int m, const int32_t *idx, float *z, int k, const float *bias, const float *norm,
               int32_t *pred, double *slack);
void sweep_update_delta(int m, const int32_t *idx, const float *p, int S, int C, int c,
                        const int32_t *start, const int32_t *dst, const int32_t *woff,
                        const float *w, int width, float *pre, const float *ref, int out,
                        int relu, double gain, double *bound);
void sweep_act(int64_t n, const float *pre, float *ref, int relu);
