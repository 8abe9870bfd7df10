/* engine.h — the interface between host.go (the driver) and engine.c / kernels.h (the loops).
 *
 * Activation layout: images are processed in blocks of LANES = 16. Inside a block, a layer's
 * activation of per-image size S is stored as S × 16 floats: element s of image v is at
 * [s*16 + v]. Every layer shape therefore vectorises perfectly over the 16 images (no padding
 * of channels or widths), Flatten is the identity, and a "pixel" of C channels is C*16
 * contiguous floats. Buffers are 64-byte aligned. */
#ifndef GOODNET_HOST_ENGINE_H
#define GOODNET_HOST_ENGINE_H

#define LANES 16

enum { ISA_PORTABLE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_COUNT = 3 };

/* One call of a register-tiled micro-kernel: npix outputs ("pixels": output columns of one
 * conv row, or blocks of a dense layer) × NO output channels, in tiles of NP pixels. */
typedef struct {
	const float *in;  /* input of pixel 0 at kernel row 0, offset 0, lane 0 */
	long pstride;     /* floats between the inputs of consecutive pixels */
	long rowstride;   /* floats between kernel rows */
	int kh, kwc;      /* kernel rows; contiguous LANES-float steps per kernel row */
	int npix;         /* pixels to compute (>= NP) */
	int nout;         /* output channels (>= NO) */
	const float *w;   /* weight panels [ceil(nout/NO)][kh*kwc][NO] */
	const float *bias;/* bias panels [ceil(nout/NO)][NO] */
	float *out;       /* output of pixel 0, channel 0, lane 0 */
	long ostride;     /* floats between the outputs of consecutive pixels */
	int relu;
} tile_args;

/* A convolution on one (already zero-padded) block. */
typedef struct {
	int H, W, C;      /* padded input */
	int OH, OW, O;    /* output */
	int KH, KW, SH, SW;
	int relu;
	int np, no;       /* micro-kernel tile */
} conv_p;

/* A max or average pool on one block; windows are clipped to the input (padded positions
 * are ignored, or, for an average with count_pad, count in the divisor). */
typedef struct {
	int H, W, C;
	int OH, OW;
	int PH, PW, SH, SW, PT, PL;
} pool_p;

/* An element-wise step on one block: out = act((a [+ b]) · scale[c] + shift[c]) for every
 * position and channel c (scale, shift: NULL for none). */
enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_LEAKY = 2 };
typedef struct {
	int C;            /* channels (the last axis) */
	long npos;        /* positions: elements / C */
	int act;          /* ACT_* */
	float alpha;      /* ACT_LEAKY: the slope below 0 */
} elt_p;

/* the micro-kernel tile for npix pixels × nout channels of kk taps; a pixel reads kh rows of
 * kw pixels of c channels, sw pixels after the previous one (a dense layer: 1, k, k, 1). */
void host_choose_tile(int isa, int npix, int nout, long kk, int kh, int kw, int sw, int c, int *np, int *no);

void host_conv(int isa, const conv_p *c, const float *in, const float *wp, const float *bp, float *out);
void host_conv_pool(int isa, const conv_p *c, const pool_p *p, const float *in, const float *wp,
                    const float *bp, float *rows, float *out);
void host_maxpool(int isa, const pool_p *p, const float *in, float *out);
void host_dense(int isa, int nb, int k, int o, int np, int no, const float *in, long istride, const float *wp,
                const float *bp, float *out, long ostride, int relu);
void host_avgpool(int isa, const pool_p *p, int count_pad, const float *in, float *out);
void host_gap(int isa, long npos, int C, const float *in, float *out);
void host_eltwise(int isa, const elt_p *p, const float *a, const float *b, const float *scale, const float *shift,
                  float *out);
void host_copy_rows(const float *src, long sstride, float *dst, long dstride, long len, long rows);
void host_pad(const float *in, float *out, int H, int W, int C, int Hp, int Wp, int pt, int pl);
void host_pack(const float *src, float *dst, long s, int nvalid);
void host_unpack(const float *src, float *dst, long s, int nvalid);
void host_argmax(const float *src, int *dst, long s, int nvalid);
void host_add(int isa, float *dst, const float *a, const float *b, long n);
void host_relu(int isa, float *dst, const float *src, long n);

/* GEMM: C[m×n] = A[m×k]·B[k×n] (+ C if acc); row-major with leading dimensions. pb is packing
 * scratch of GEMM_PB floats. */
#define GEMM_KC 256
#define GEMM_MC 96
#define GEMM_NC 512
#define GEMM_PB (GEMM_KC * GEMM_NC)
void host_gemm(int isa, long m, long n, long k, const float *a, long lda, const float *b, long ldb,
               float *c, long ldc, int acc, float *pb);

#endif
