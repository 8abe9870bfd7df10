/* hostcheck.h — the C interface of hostcheck.cc (see hostcheck.go). */
typedef long long i64;

void hc_relu(float *out, const float *x, i64 n);
void hc_add(float *out, const float *a, const float *b, i64 n);
void hc_merge(int *out, const int *b, const int *bprime, i64 n, int flag);
void hc_conv2d(float *out, const float *x, const float *w, const float *b, i64 n, int H, int W, int C,
               int OH, int OW, int O, int KH, int KW, int SH, int SW, int PT, int PL, int relu);
void hc_dense(float *out, const float *x, const float *w, const float *b, i64 n, int K, int O, int relu);
void hc_maxpool(float *out, const float *x, i64 n, int H, int W, int C, int OH, int OW, int KH, int KW,
                int SH, int SW, int PT, int PL);
void hc_argmax(int *out, const float *x, i64 rows, int k);
void hc_channel_sum(double *acc, double *partial, const float *x, i64 rows, int C);
