/* engine.h — the interface between the Go driver (plan.go, step.go) and the training kernels
 * (engine.c, kernels.h).
 *
 * Layout (as host/'s engine): images go through the net in blocks of LANES = 16, one image per
 * SIMD lane. A layer's activation (or gradient) of per-image size S is S × 16 floats: element s
 * of image v at [s*16 + v]. Every layer shape vectorises over the 16 images, Flatten is the
 * identity (Keras' channels-last order), and a "pixel" of C channels is C*16 contiguous floats.
 * A weight gradient is a reduction over the lanes (and pixels) of one block. Buffers are
 * 64-byte aligned. Weights stay in Keras' layouts: Conv2D (kh, kw, cin, cout), Dense (in, out). */
#ifndef GOODNET_TRAIN_ENGINE_H
#define GOODNET_TRAIN_ENGINE_H

#define LANES 16

enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_COUNT = 3 };

/* How the micro-kernel reads its weights: element (q, o) of a kk × nout matrix is
 *   WROW:   w[q*ldw + o]   (row-major, Keras' layouts: forward Conv2D and Dense)
 *   WTRANS: w[o*ldw + q]   (the transpose: a Dense kernel read as (out, in) for the input gradient) */
enum { WROW = 0, WTRANS = 1 };

/* One call of the register-tiled micro-kernel, for npix "pixels" (output columns of a conv row,
 * or blocks of a dense layer) × nout outputs:
 *   out[p*ostride + o*16 + v] (=|+=) init[o] + Σ_{di<kh} Σ_{q<kwc} in[p*pstride + di*rowstride + q*16 + v]
 *                                                                  · w(di*kwc + q, o)
 * init is the bias (zero if NULL); with acc set the sum is added to out instead. */
typedef struct {
	const float *in;
	long pstride, rowstride;
	int kh, kwc;
	int npix, nout;
	const float *w;
	long ldw;
	int wmode;         /* WROW or WTRANS */
	const float *bias; /* nout, or NULL */
	float *out;
	long ostride;
	int relu, acc;
	int np, no; /* the tile (from train_choose_tile) */
} fwd_args;

/* A convolution's geometry on one block: the (padded) input, the output, the window. */
typedef struct {
	int H, W, C;   /* input as the kernel reads it (after "same" padding) */
	int OH, OW, O; /* output */
	int KH, KW, SH, SW;
} conv_g;

/* A max pool on one block; windows are clipped to the input ("same" padding is ignored). */
typedef struct {
	int H, W, C;
	int OH, OW;
	int PH, PW, SH, SW, PT, PL;
} pool_p;

/* The weight gradient of a convolution, one block: for every kernel entry kq = (di, dj, c) and
 * output channel o, s[(kq*nout + o)*16 + v] += Σ_{r<oh, p<ow} x[r*xrow + p*xpix + xoff[kq] + v]
 *                                                           · d[r*drow + p*dpix + o*16 + v].
 * The lane sums stay in s (one vector per weight); train_lanesum folds them. With sb set, also
 * sb[o*16 + v] += Σ_{r, p} d[…] (the bias gradient, lane by lane). */
typedef struct {
	const float *x;
	long xpix, xrow;
	const long *xoff;
	int kk;
	const float *d;
	long dpix, drow;
	int nout;
	int oh, ow;
	float *s;
	float *sb; /* per-lane sums of d over the pixels (nout*16), or NULL */
	int nk, no; /* the tile */
} wgrad_args;

int train_isa_supported(int isa);
void train_choose_tile(int isa, int npix, int nout, long kk, int *np, int *no);
void train_wgrad_tile(int isa, int *nk, int *no);

void train_fwd(int isa, const fwd_args *a);
void train_conv(int isa, const conv_g *g, const fwd_args *row, const float *in, float *out);
void train_conv_back(int isa, const conv_g *g, const fwd_args *row, const float *dpad, float *dx, int pt, int pl,
                     int H, int W);
void train_wgrad(int isa, const wgrad_args *a);
void train_maxpool(int isa, const pool_p *p, const float *in, float *out);
void train_maxpool_back(int isa, const pool_p *p, const float *x, const float *y, const float *dy, float *dx,
                        int acc, int gate);
void train_conv_pool(int isa, const conv_g *g, const fwd_args *row, const pool_p *p, const float *in, float *rows,
                     float *out, unsigned char *code);
void train_conv_pool_back(int isa, const pool_p *p, const unsigned char *code, const float *dp, const wgrad_args *wa,
                          float *dst, long drow, long dpix, int frame, int q);
void train_dense_wgrad(int isa, int K, int O, const float *x, const float *dt, float *dw, int acc);
void train_adam(int isa, long n, float *w, float *const *g, int ng, float *m, float *v, const unsigned char *fix,
                float step, float rc2, float l2, float shrink);

void train_lanesum(const float *s, float *dst, long n, int acc);
void train_colsum(const float *d, int oh, int ow, long drow, long dpix, int nout, float *db, int acc);
void train_transpose(const float *d, float *dt, int O);
void train_relu_mask(float *d, const float *y, long n);
void train_relu_back(float *dx, const float *dy, const float *y, long n, int acc);
void train_add_to(float *dst, const float *src, long n, int acc);
void train_add(float *dst, const float *a, const float *b, long n);
void train_relu(float *dst, const float *src, long n);
void train_pad(const float *in, float *out, int H, int W, int C, int Hp, int Wp, int pt, int pl);
void train_scatter(const float *d, const float *y, float *dpad, int OH, int OW, int O, long prow, long ppix, long p0);
void train_gather(const float *src, const long *off, float *dst, long s, int nvalid, float scale);
void train_unpack(const float *src, float *dst, long s, int nvalid);
void train_flip(const float *w, float *wt, int KH, int KW, int C, int O);
long long train_thread_ns(void);
double train_xent(int isa, const float *z, float *dz, int K, int nvalid, const int *label, double inv_batch,
                  double *loss, int *argmax);

#endif
