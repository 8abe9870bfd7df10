/* engine.c — the CPU engine's C side: kernels.h compiled for each instruction set (portable,
 * AVX2+FMA, AVX-512, with the target attributes of goodnet/internal/simd), the dispatch
 * between them on the variant index host.go passes (simd.Best), and the layout helpers. See
 * engine.h for the block layout. */
#include <math.h>
#include <string.h>

#include "engine.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

typedef struct {
	void (*choose_tile)(int npix, int nout, long kk, int kh, int kw, int sw, int c, int *np, int *no);
	void (*conv)(const conv_p *, const float *, const float *, const float *, float *);
	void (*conv_pool)(const conv_p *, const pool_p *, const float *, const float *, const float *, float *, float *);
	void (*maxpool)(const pool_p *, const float *, float *);
	void (*avgpool)(const pool_p *, int, const float *, float *);
	void (*gap)(long, int, const float *, float *);
	void (*eltwise)(const elt_p *, const float *, const float *, const float *, const float *, float *);
	void (*dense)(int, int, int, int, int, const float *, long, const float *, const float *, float *, long, int);
	void (*add)(float *, const float *, const float *, long);
	void (*relu)(float *, const float *, long);
	void (*gemm)(long, long, long, const float *, long, const float *, long, float *, long, int, float *);
} isa_ops;

/* portable: 4-wide vectors of the build target (SSE2 on x86-64, NEON on arm64) */
#define ISA_SFX portable
#define VW 4
#define REGS 16
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS

#if defined(__x86_64__) || defined(__i386__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define ISA_SFX avx2
#define VW 8
#define REGS 16
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS
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
#include "kernels.h"
#undef ISA_SFX
#undef VW
#undef REGS
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

static const isa_ops *const isas[ISA_COUNT] = {&ops_portable, &ops_avx2, &ops_avx512};
#else
static const isa_ops *const isas[ISA_COUNT] = {&ops_portable, 0, 0};
#endif

void host_choose_tile(int isa, int npix, int nout, long kk, int kh, int kw, int sw, int c, int *np, int *no)
{
	isas[isa]->choose_tile(npix, nout, kk, kh, kw, sw, c, np, no);
}

void host_conv(int isa, const conv_p *c, const float *in, const float *wp, const float *bp, float *out)
{
	isas[isa]->conv(c, in, wp, bp, out);
}

void host_conv_pool(int isa, const conv_p *c, const pool_p *p, const float *in, const float *wp, const float *bp,
                    float *rows, float *out)
{
	isas[isa]->conv_pool(c, p, in, wp, bp, rows, out);
}

void host_maxpool(int isa, const pool_p *p, const float *in, float *out) { isas[isa]->maxpool(p, in, out); }

void host_avgpool(int isa, const pool_p *p, int count_pad, const float *in, float *out)
{
	isas[isa]->avgpool(p, count_pad, in, out);
}

void host_gap(int isa, long npos, int C, const float *in, float *out) { isas[isa]->gap(npos, C, in, out); }

void host_eltwise(int isa, const elt_p *p, const float *a, const float *b, const float *scale, const float *shift,
                  float *out)
{
	isas[isa]->eltwise(p, a, b, scale, shift, out);
}

/* host_copy_rows copies rows of len floats from src (sstride apart) to dst (dstride apart):
 * Concatenate's channel slices. */
void host_copy_rows(const float *src, long sstride, float *dst, long dstride, long len, long rows)
{
	for (long r = 0; r < rows; r++) memcpy(dst + r * dstride, src + r * sstride, sizeof(float) * len);
}

void host_dense(int isa, int nb, int k, int o, int np, int no, const float *in, long istride, const float *wp,
                const float *bp, float *out, long ostride, int relu)
{
	isas[isa]->dense(nb, k, o, np, no, in, istride, wp, bp, out, ostride, relu);
}

void host_add(int isa, float *dst, const float *a, const float *b, long n) { isas[isa]->add(dst, a, b, n); }

void host_relu(int isa, float *dst, const float *src, long n) { isas[isa]->relu(dst, src, n); }

void host_gemm(int isa, long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
               int acc, float *pb)
{
	isas[isa]->gemm(m, n, k, a, lda, b, ldb, c, ldc, acc, pb);
}

/* host_pad copies a block of H×W×C into the middle of a zeroed Hp×Wp×C block at (pt, pl). */
void host_pad(const float *in, float *out, int H, int W, int C, int Hp, int Wp, int pt, int pl)
{
	const long pix = (long)C * LANES;
	memset(out, 0, sizeof(float) * Hp * Wp * pix);
	for (int i = 0; i < H; i++)
		memcpy(out + ((long)(i + pt) * Wp + pl) * pix, in + (long)i * W * pix, sizeof(float) * W * pix);
}

/* host_pack interleaves nvalid images of s floats (src, image after image) into a block:
 * dst[e*16 + v] = src[v*s + e]; lanes nvalid..15 are zero. */
void host_pack(const float *src, float *dst, long s, int nvalid)
{
	long e = 0;
	if (nvalid == LANES) /* 4 elements of 16 images at a time: 16 sequential streams */
		for (; e + 4 <= s; e += 4)
			for (int k = 0; k < 4; k++)
				for (int v = 0; v < LANES; v++) dst[(e + k) * LANES + v] = src[v * s + e + k];
	for (; e < s; e++)
		for (int v = 0; v < LANES; v++) dst[e * LANES + v] = v < nvalid ? src[v * s + e] : 0;
}

/* host_argmax writes, for each of the first nvalid images of a packed block of s values per
 * image, the index of its largest value (the first on ties, as nn.Argmax): the classes,
 * without unpacking the logits. */
void host_argmax(const float *src, int *dst, long s, int nvalid)
{
	float best[LANES];
	int arg[LANES];
	for (int v = 0; v < LANES; v++) {
		best[v] = src[v];
		arg[v] = 0;
	}
	for (long e = 1; e < s; e++) {
		const float *p = src + e * LANES;
		for (int v = 0; v < LANES; v++)
			if (p[v] > best[v]) {
				best[v] = p[v];
				arg[v] = (int)e;
			}
	}
	for (int v = 0; v < nvalid; v++) dst[v] = arg[v];
}

/* host_unpack is the inverse of host_pack for the first nvalid images, a tile of 16 elements
 * of every image at a time (the tile's cache lines are read by every image while in L1). */
void host_unpack(const float *src, float *dst, long s, int nvalid)
{
	for (long e0 = 0; e0 < s; e0 += 16) {
		const long e1 = e0 + 16 < s ? e0 + 16 : s;
		for (int v = 0; v < nvalid; v++)
			for (long e = e0; e < e1; e++) dst[v * s + e] = src[e * LANES + v];
	}
}
