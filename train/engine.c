/* engine.c — the training engine's C side: kernels.h compiled for each instruction set
 * (portable, AVX2+FMA, AVX-512), the run-time dispatch between them, and the plain loops that
 * move data (element-wise steps, layouts, the loss). The Go driver is step.go. */
#include <math.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "engine.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

typedef struct {
	void (*choose_tile)(int npix, int nout, long kk, int *np, int *no);
	void (*wgrad_tile)(int *nk, int *no);
	void (*fwd)(const fwd_args *);
	void (*conv)(const conv_g *, const fwd_args *, const float *, float *);
	void (*conv_back)(const conv_g *, const fwd_args *, const float *, float *, int, int, int, int);
	void (*wgrad)(const wgrad_args *);
	void (*maxpool)(const pool_p *, const float *, float *);
	void (*maxpool_back)(const pool_p *, const float *, const float *, const float *, float *, int, int);
	void (*dense_wgrad)(int, int, const float *, const float *, float *, int);
	void (*adam)(long, float *, float *const *, int, float *, float *, const unsigned char *, float, float, float,
	             float);
	void (*conv_pool)(const conv_g *, const fwd_args *, const pool_p *, const float *, float *, float *,
	                  unsigned char *);
	void (*conv_pool_back)(const pool_p *, const unsigned char *, const float *, const wgrad_args *, float *, long,
	                       long, int, int);
	double (*xent)(const float *, float *, int, int, const int *, double, double *, int *);
} isa_ops;

/* portable: 4-wide vectors of the build target (SSE2 on x86-64, NEON on arm64) */
#define ISA_SFX portable
#define VW 4
#define REGS 16
#if defined(__x86_64__) || defined(__i386__)
#define VSQRT(v) ((__typeof__(v))_mm_sqrt_ps((__m128)(v)))
#elif defined(__aarch64__)
#define VSQRT(v) ((__typeof__(v))vsqrtq_f32((float32x4_t)(v)))
#else
#define VSQRT(v) ((__typeof__(v)){__builtin_sqrtf((v)[0]), __builtin_sqrtf((v)[1]), __builtin_sqrtf((v)[2]), __builtin_sqrtf((v)[3])})
#endif
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS
#undef VSQRT

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define ISA_SFX avx2
#define VW 8
#define REGS 16
#define VSQRT(v) ((__typeof__(v))_mm256_sqrt_ps((__m256)(v)))
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS
#undef VSQRT
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")
#endif
#define ISA_SFX avx512
#define VW 16
#define REGS 32
#define VSQRT(v) ((__typeof__(v))_mm512_sqrt_ps((__m512)(v)))
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS
#undef VSQRT
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const isa_ops *const isas[ISA_COUNT] = {&ops_portable, &ops_avx2, &ops_avx512};
#else
static const isa_ops *const isas[ISA_COUNT] = {&ops_portable, 0, 0};
#endif

int train_isa_supported(int isa)
{
	if (isa < 0 || isa >= ISA_COUNT || !isas[isa]) return 0;
#ifdef HAVE_X86
	__builtin_cpu_init();
	if (isa == ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (isa == ISA_AVX512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	return isa == ISA_PORTABLE;
}

void train_choose_tile(int isa, int npix, int nout, long kk, int *np, int *no)
{
	isas[isa]->choose_tile(npix, nout, kk, np, no);
}
void train_wgrad_tile(int isa, int *nk, int *no) { isas[isa]->wgrad_tile(nk, no); }
void train_fwd(int isa, const fwd_args *a) { isas[isa]->fwd(a); }
void train_conv(int isa, const conv_g *g, const fwd_args *row, const float *in, float *out)
{
	isas[isa]->conv(g, row, in, out);
}
void train_conv_back(int isa, const conv_g *g, const fwd_args *row, const float *dpad, float *dx, int pt, int pl,
                     int H, int W)
{
	isas[isa]->conv_back(g, row, dpad, dx, pt, pl, H, W);
}
void train_wgrad(int isa, const wgrad_args *a) { isas[isa]->wgrad(a); }
void train_maxpool(int isa, const pool_p *p, const float *in, float *out) { isas[isa]->maxpool(p, in, out); }
void train_maxpool_back(int isa, const pool_p *p, const float *x, const float *y, const float *dy, float *dx,
                        int acc, int gate)
{
	isas[isa]->maxpool_back(p, x, y, dy, dx, acc, gate);
}
void train_dense_wgrad(int isa, int K, int O, const float *x, const float *dt, float *dw, int acc)
{
	isas[isa]->dense_wgrad(K, O, x, dt, dw, acc);
}
void train_adam(int isa, long n, float *w, float *const *g, int ng, float *m, float *v, const unsigned char *fix,
                float step, float rc2, float l2, float shrink)
{
	isas[isa]->adam(n, w, g, ng, m, v, fix, step, rc2, l2, shrink);
}

/* train_thread_ns is the calling thread's CPU time in nanoseconds (for profiles). */
long long train_thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void train_conv_pool(int isa, const conv_g *g, const fwd_args *row, const pool_p *p, const float *in, float *rows,
                     float *out, unsigned char *code)
{
	isas[isa]->conv_pool(g, row, p, in, rows, out, code);
}
void train_conv_pool_back(int isa, const pool_p *p, const unsigned char *code, const float *dp, const wgrad_args *wa,
                          float *dst, long drow, long dpix, int frame, int q)
{
	isas[isa]->conv_pool_back(p, code, dp, wa, dst, drow, dpix, frame, q);
}

/* ---- plain loops (the compiler vectorises them; they move O(activations) data) ------------ */

/* train_lanesum: dst[i] (+)= Σ_v s[i*16 + v] — folds wgrad's per-lane sums into a gradient. */
void train_lanesum(const float *s, float *dst, long n, int acc)
{
	for (long i = 0; i < n; i++) {
		float t = 0;
		for (int v = 0; v < LANES; v++) t += s[i * LANES + v];
		dst[i] = acc ? dst[i] + t : t;
	}
}

/* train_colsum: db[o] (+)= Σ_{r<oh, p<ow, v} d[r*drow + p*dpix + o*16 + v] — a bias gradient
 * (pixels outside, channels inside: one pass over d). */
void train_colsum(const float *d, int oh, int ow, long drow, long dpix, int nout, float *db, int acc)
{
	enum { CH = 256 };
	float s[CH * LANES];
	for (int o0 = 0; o0 < nout; o0 += CH) {
		const int no = nout - o0 < CH ? nout - o0 : CH;
		memset(s, 0, sizeof(float) * no * LANES);
		for (int r = 0; r < oh; r++)
			for (int p = 0; p < ow; p++) {
				const float *q = d + r * drow + p * dpix + (long)o0 * LANES;
				for (long e = 0; e < (long)no * LANES; e++) s[e] += q[e];
			}
		for (int o = 0; o < no; o++) {
			float t = 0;
			for (int v = 0; v < LANES; v++) t += s[o * LANES + v];
			db[o0 + o] = acc ? db[o0 + o] + t : t;
		}
	}
}

/* train_transpose: dt[v*O + o] = d[o*16 + v] (a Dense output gradient, lanes to rows). */
void train_transpose(const float *d, float *dt, int O)
{
	for (int o = 0; o < O; o++)
		for (int v = 0; v < LANES; v++) dt[(long)v * O + o] = d[(long)o * LANES + v];
}

/* train_relu_mask: d = d where y > 0, else 0 (in place; y is the ReLU's output). */
void train_relu_mask(float *d, const float *y, long n)
{
	for (long i = 0; i < n; i++) d[i] = y[i] > 0 ? d[i] : 0;
}

/* train_relu_back: dx (+)= dy where y > 0. */
void train_relu_back(float *dx, const float *dy, const float *y, long n, int acc)
{
	if (acc)
		for (long i = 0; i < n; i++) dx[i] += y[i] > 0 ? dy[i] : 0;
	else
		for (long i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

/* train_add_to: dst (+)= src. */
void train_add_to(float *dst, const float *src, long n, int acc)
{
	if (acc)
		for (long i = 0; i < n; i++) dst[i] += src[i];
	else
		memcpy(dst, src, sizeof(float) * n);
}

void train_add(float *dst, const float *a, const float *b, long n)
{
	for (long i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

void train_relu(float *dst, const float *src, long n)
{
	for (long i = 0; i < n; i++) dst[i] = src[i] > 0 ? src[i] : 0;
}

/* train_pad copies a block of H×W×C into the middle of a zeroed Hp×Wp×C block at (pt, pl). */
void train_pad(const float *in, float *out, int H, int W, int C, int Hp, int Wp, int pt, int pl)
{
	const long pix = (long)C * LANES;
	memset(out, 0, sizeof(float) * Hp * Wp * pix);
	for (int i = 0; i < H; i++)
		memcpy(out + ((long)(i + pt) * Wp + pl) * pix, in + (long)i * W * pix, sizeof(float) * W * pix);
}

/* train_scatter writes a conv's output gradient d (OH×OW×O) into the frame dpad read by
 * conv_back: pixel (r, p) at p0 + r*prow + p*ppix; where y is set, only where y > 0 (ReLU). */
void train_scatter(const float *d, const float *y, float *dpad, int OH, int OW, int O, long prow, long ppix, long p0)
{
	const long pix = (long)O * LANES;
	for (int r = 0; r < OH; r++)
		for (int p = 0; p < OW; p++) {
			const long s = ((long)r * OW + p) * pix;
			float *dst = dpad + p0 + r * prow + p * ppix;
			if (y)
				for (long e = 0; e < pix; e++) dst[e] = y[s + e] > 0 ? d[s + e] : 0;
			else
				memcpy(dst, d + s, sizeof(float) * pix);
		}
}

/* train_gather interleaves nvalid images of s floats, image v at src + off[v], times scale,
 * into a block: dst[e*16 + v] = scale·src[off[v] + e]; lanes nvalid..15 are zero. */
void train_gather(const float *src, const long *off, float *dst, long s, int nvalid, float scale)
{
	const float *img[LANES];
	for (int v = 0; v < nvalid; v++) img[v] = src + off[v];
	if (nvalid == LANES) /* 16 read streams, sequential writes */
		for (long e = 0; e < s; e++)
			for (int v = 0; v < LANES; v++) dst[e * LANES + v] = img[v][e] * scale;
	else
		for (long e = 0; e < s; e++)
			for (int v = 0; v < LANES; v++) dst[e * LANES + v] = v < nvalid ? img[v][e] * scale : 0;
}

/* train_unpack is the inverse of train_gather (scale 1, images one after the other) for the
 * first nvalid images. */
void train_unpack(const float *src, float *dst, long s, int nvalid)
{
	for (int v = 0; v < nvalid; v++)
		for (long e = 0; e < s; e++) dst[v * s + e] = src[e * LANES + v];
}

/* train_flip writes the kernel of the input gradient of a convolution: the Keras kernel
 * w (KH, KW, C, O) flipped in both spatial axes and transposed to (KH, KW, O, C). */
void train_flip(const float *w, float *wt, int KH, int KW, int C, int O)
{
	for (int di = 0; di < KH; di++)
		for (int dj = 0; dj < KW; dj++)
			for (int c = 0; c < C; c++)
				for (int o = 0; o < O; o++)
					wt[(((long)(KH - 1 - di) * KW + (KW - 1 - dj)) * O + o) * C + c] =
					    w[(((long)di * KW + dj) * C + c) * O + o];
}

double train_xent(int isa, const float *z, float *dz, int K, int nvalid, const int *label, double inv_batch,
                  double *loss, int *argmax)
{
	return isas[isa]->xent(z, dz, K, nvalid, label, inv_batch, loss, argmax);
}
