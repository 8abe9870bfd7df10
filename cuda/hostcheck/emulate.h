/* emulate.h — the C interface of emulate.cc: each kernel of kernels.cu with its launch
 * geometry (grid gx × gy, block bx × by) first. */
typedef long long i64;

void emu_relu(int gx, int gy, int bx, int by, float *out, const float *x, i64 n);
void emu_add(int gx, int gy, int bx, int by, float *out, const float *a, const float *b, i64 n);
void emu_merge(int gx, int gy, int bx, int by, int *out, const int *b, const int *bprime, i64 n, int classes);
void emu_conv2d(int gx, int gy, int bx, int by, float *out, const float *x, const float *w, const float *b, i64 n,
                int H, int W, int C, int OH, int OW, int O, int KH, int KW, int SH, int SW, int PT, int PL, int relu);
void emu_dense(int gx, int gy, int bx, int by, float *out, const float *x, const float *w, const float *b, i64 n,
               int K, int O, int relu);
void emu_maxpool(int gx, int gy, int bx, int by, float *out, const float *x, i64 n, int H, int W, int C, int OH,
                 int OW, int KH, int KW, int SH, int SW, int PT, int PL);
void emu_argmax(int gx, int gy, int bx, int by, int *out, const float *x, i64 rows, int k);
void emu_channel_sum_partial(int gx, int gy, int bx, int by, double *partial, const float *x, i64 rows, int C);
void emu_channel_sum_finish(int gx, int gy, int bx, int by, double *acc, const double *partial, int blocks, int C);
void emu_zero_channels(int gx, int gy, int bx, int by, float *w, float *b, i64 taps, int O, const int *chans, int nch);
