// rnnp's fused recurrent kernels, natively: a port of kernels/rnn.ts that gives the same bits.
//
// Every output element is computed by the same sequence of float32 operations as in the
// WebAssembly kernels, only more elements at a time (W lanes of V instead of 4):
// - products sum over k in order, in the same passes of KC, each pass started from +0 and added to
//   C (vectorised across output columns and blocked across rows, never across the reduction);
// - the gate math is lane-wise, with the same polynomials, clamps and operation order (a tail of
//   fewer than W units runs the same vector code on a partial vector, as rnn.ts runs lane 0 of its
//   vector code on a scalar);
// - buffers, chunks and threads are the caller's, as for the wasm kernels.
// Read it beside kernels/rnn.ts: the functions have the same names and the same order.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "abi.h"
#include "simd.h"

#if defined(__GNUC__)
#ifndef RNNP_INLINE
#define RNNP_INLINE inline __attribute__((always_inline))
#endif
#else
#define RNNP_INLINE inline
#endif

// A loop over a tile's rows or vectors, unrolled completely before the compiler decides where the
// tile's accumulators live. Without it GCC 12 may keep a tile's array of sums in memory and store
// every sum to the stack at every step of the reduction (24 vector stores per 24 products): it did
// in some of the add-on's copies of the AVX-512 tiles, in most of them once the multiplies took
// their broadcast from memory (a chunk 6-8% slower), and in a C++ driver of rnn.h's gemm (55-63
// GFLOP/s instead of 90-97 on one Zen 4 core).
#if defined(__GNUC__)
#define RNNP_UNROLL _Pragma("GCC unroll 16")
#else
#define RNNP_UNROLL
#endif

namespace rnnp {

using idx = std::ptrdiff_t;

template <class V>
struct Kernels {
  using R = typename V::R;
  static constexpr int W = V::W;

  // ---- element-wise math (Cephes' single-precision approximations, as in rnn.ts) ----

  // The constants as AssemblyScript makes them: the literal read as a double, then rounded to float.
  static RNNP_INLINE R c(double v) { return V::set1((float)v); }

  static RNNP_INLINE R expv(R v) {
    const R x0 = V::pmin(V::pmax(v, c(-87.0)), c(88.0));
    const R fx = V::floor(V::add(V::mul(x0, c(1.44269504088896341)), c(0.5)));
    R x = V::sub(x0, V::mul(fx, c(0.693359375)));
    x = V::sub(x, V::mul(fx, c(-2.12194440e-4)));
    const R z = V::mul(x, x);
    R y = c(1.9875691500e-4);
    y = V::add(V::mul(y, x), c(1.3981999507e-3));
    y = V::add(V::mul(y, x), c(8.3334519073e-3));
    y = V::add(V::mul(y, x), c(4.1665795894e-2));
    y = V::add(V::mul(y, x), c(1.6666665459e-1));
    y = V::add(V::mul(y, x), c(5.0000001201e-1));
    y = V::add(V::add(V::mul(y, z), x), c(1.0));
    const R pow2n = V::shl23(V::add(fx, c(12583039.0)));
    return V::mul(y, pow2n);
  }

  static RNNP_INLINE R sigmoidv(R x) { return V::div(c(1.0), V::add(c(1.0), expv(V::neg(x)))); }

  static RNNP_INLINE R tanhv(R x) {
    const R ax = V::abs(x);
    const R big = V::orBits(V::sub(c(1.0), V::div(c(2.0), V::add(expv(V::add(ax, ax)), c(1.0)))),
                            V::signOf(x));
    const R z = V::mul(x, x);
    R p = c(-5.70498872745e-3);
    p = V::add(V::mul(p, z), c(2.06390887954e-2));
    p = V::add(V::mul(p, z), c(-5.37397155531e-2));
    p = V::add(V::mul(p, z), c(1.33314422036e-1));
    p = V::add(V::mul(p, z), c(-3.33332819422e-1));
    const R small = V::add(V::mul(V::mul(p, z), x), x);
    return V::ltSelect(ax, c(0.625), small, big);
  }

  // A lane loop over n units: whole vectors, then one partial vector for the tail.
  template <class Body>
  static RNNP_INLINE void lanes(int n, Body body) {
    int j = 0;
    for (; j + W <= n; j += W) body(j, W);
    if (j < n) body(j, n - j);
  }
  static RNNP_INLINE R ld(const float* p, int n) { return n == W ? V::load(p) : V::loadn(p, n); }
  static RNNP_INLINE void st(float* p, R v, int n) {
    if (n == W)
      V::store(p, v);
    else
      V::storen(p, v, n);
  }

  // ---- matrix products ----

  static constexpr int KC = 256;

  // An MR x NV*W tile of C over kc steps of the reduction (the last vector has `last` lanes).
  template <int MR, int NV>
  static RNNP_INLINE void tile(int kc, const float* a, idx ars, idx acs, const float* b, idx ldb,
                               float* cp, idx ldc, bool acc, int last) {
    R s[MR][NV];
    RNNP_UNROLL for (int r = 0; r < MR; r++)
      RNNP_UNROLL for (int v = 0; v < NV; v++) s[r][v] = V::zero();
    for (int k = 0; k < kc; k++) {
      R bv[NV];
      RNNP_UNROLL for (int v = 0; v < NV; v++)
        bv[v] = v == NV - 1 && last < W ? V::loadn(b + v * W, last) : V::load(b + v * W);
      RNNP_UNROLL for (int r = 0; r < MR; r++)
        RNNP_UNROLL for (int v = 0; v < NV; v++)
          s[r][v] = V::add(s[r][v], V::mulBroadcast(bv[v], a + r * ars));
      a += acs;
      b += ldb;
    }
    RNNP_UNROLL for (int r = 0; r < MR; r++)
      RNNP_UNROLL for (int v = 0; v < NV; v++) {
        float* p = cp + r * ldc + v * W;
        const int n = v == NV - 1 ? last : W;
        st(p, acc ? V::add(ld(p, n), s[r][v]) : s[r][v], n);
      }
  }

  // Rows of one column panel, MR at a time, then the remaining rows.
  template <int MR, int NV>
  static void panel(int M, int kc, const float* a, idx ars, idx acs, const float* b, idx ldb,
                    float* cp, idx ldc, bool acc, int last) {
    int i = 0;
    for (; i + MR <= M; i += MR)
      tile<MR, NV>(kc, a + i * ars, ars, acs, b, ldb, cp + i * ldc, ldc, acc, last);
    if constexpr (MR > 1) {
      const int rest = M - i;
      if (rest > 0) {
        const float* ai = a + i * ars;
        float* ci = cp + i * ldc;
        rows<MR - 1, NV>(rest, kc, ai, ars, acs, b, ldb, ci, ldc, acc, last);
      }
    }
  }

  // Fewer than MR rows: one tile of exactly that many.
  template <int MR, int NV>
  static RNNP_INLINE void rows(int n, int kc, const float* a, idx ars, idx acs, const float* b,
                               idx ldb, float* cp, idx ldc, bool acc, int last) {
    if (n == MR)
      tile<MR, NV>(kc, a, ars, acs, b, ldb, cp, ldc, acc, last);
    else if constexpr (MR > 1)
      rows<MR - 1, NV>(n, kc, a, ars, acs, b, ldb, cp, ldc, acc, last);
  }

  /**
   * C[M,N] = (acc ? C : 0) + A[M,K] B[K,N], as rnn.ts's gemm: A's element (i, k) at a[i*ars + k*acs];
   * for each element, sums over k in order within passes of KC, each pass started from +0 and added
   * to C. How C is cut into tiles changes no element's sum, only the speed.
   */
#ifndef RNNP_MR
#define RNNP_MR 6
#define RNNP_NV 4
#endif
  static void gemm(int M, int N, int K, const float* a, int ars, int acs, const float* b, int ldb,
                   float* cm, int ldc, bool acc) {
    if constexpr (W == 1) {
      tiled<4, 8>(M, N, K, a, ars, acs, b, ldb, cm, ldc, acc);
    } else if constexpr (W == 16) {
      // Wide products (N >= 256: the gates' products of the reference model's 128 units, and their
      // weight gradients) in 4 x 6 tiles (32 registers: 24 accumulators, 6 vectors of B), narrower
      // ones (N = 128) in 6 x 4. Measured on Zen 4, each multiply taking its broadcast of A from
      // memory (mulBroadcast): 4 x 6 as fast as 6 x 4 on the gates' products, 7-10% faster on dW and
      // on the GRU's 256 columns (6 + 6 + 4 vectors); 8 x 3, 5 x 5 and 3 x 8 no faster.
      if (N >= 256)
        tiled<4, 6>(M, N, K, a, ars, acs, b, ldb, cm, ldc, acc);
      else
        tiled<RNNP_MR, RNNP_NV>(M, N, K, a, ars, acs, b, ldb, cm, ldc, acc);
    } else {
      // AVX2 (16 registers) in 6 x 2 tiles: 12 accumulators, 2 vectors of B, one broadcast. 6 x 4
      // tiles (AVX-512's) hold 24 sums, so GCC spilled half of them at every step of the reduction:
      // 6 x 2 is 15-17% faster on a whole LSTM or GRU chunk (Zen 4, AVX2 build), 4 x 3 about the same.
      tiled<6, 2>(M, N, K, a, ars, acs, b, ldb, cm, ldc, acc);
    }
  }

  // gemm in MR x NV-vector tiles.
  template <int MR, int NV>
  static void tiled(int M, int N, int K, const float* a, int ars, int acs, const float* b, int ldb,
                    float* cm, int ldc, bool acc) {
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kc = std::min(KC, K - k0);
      const float* ak = a + (idx)k0 * acs;
      const float* bk = b + (idx)k0 * ldb;
      const bool accumulate = acc || k0 > 0;
      int j = 0;
      for (; j + NV * W <= N; j += NV * W) {
        // Panels wider than 4 vectors: rather than a rest of 1 or 2 vectors (a thin panel, slow),
        // the last whole panel and the rest run as a panel of 4 and one of the others.
        const int after = N - j - NV * W;
        if (NV > 4 && after > 0 && after <= 2 * W) break;
        panel<MR, NV>(M, kc, ak, ars, acs, bk + j, ldb, cm + j, ldc, accumulate, W);
      }
      if constexpr (NV > 4)
        if (N - j > NV * W) {
          panel<MR, 4>(M, kc, ak, ars, acs, bk + j, ldb, cm + j, ldc, accumulate, W);
          j += 4 * W;
        }
      // The last columns: whole vectors, then one partial one, in one panel of fewer vectors.
      const int left = N - j;
      if (left > 0) {
        const int nv = (left + W - 1) / W;
        const int last = left - (nv - 1) * W;
        lastPanel<MR, NV>(nv, M, kc, ak, ars, acs, bk + j, ldb, cm + j, ldc, accumulate, last);
      }
    }
  }

  // A panel of exactly nv vectors (nv <= NV).
  template <int MR, int NV>
  static RNNP_INLINE void lastPanel(int nv, int M, int kc, const float* a, idx ars, idx acs,
                                    const float* b, idx ldb, float* cp, idx ldc, bool acc,
                                    int last) {
    if constexpr (NV > 0) {
      if (nv == NV)
        panel<MR, NV>(M, kc, a, ars, acs, b, ldb, cp, ldc, acc, last);
      else
        lastPanel<MR, NV - 1>(nv, M, kc, a, ars, acs, b, ldb, cp, ldc, acc, last);
    }
  }

  /** dst[cols, rows] = src[rows, cols]ᵀ (src with leading dimension lds), in 32 x 32 blocks. */
  static void transpose(int rows, int cols, const float* src, int lds, float* dst) {
    constexpr int TB = 32;
    for (int r0 = 0; r0 < rows; r0 += TB)
      for (int c0 = 0; c0 < cols; c0 += TB) {
        const int r1 = std::min(rows, r0 + TB), c1 = std::min(cols, c0 + TB);
        for (int r = r0; r < r1; r++)
          for (int c = c0; c < c1; c++) dst[(idx)c * rows + r] = src[(idx)r * lds + c];
      }
  }

  /** out[N] = sum of the rows of m[R, N] (in row order). */
  static void columnSums(int Rn, int N, const float* m, float* out) {
    std::memset(out, 0, (size_t)N * 4);
    for (int r = 0; r < Rn; r++) {
      const float* row = m + (idx)r * N;
      lanes(N, [&](int j, int n) { st(out + j, V::add(ld(out + j, n), ld(row + j, n)), n); });
    }
  }

  static RNNP_INLINE int stepOf(int s, int T, bool rev) { return rev ? T - 1 - s : s; }
  static RNNP_INLINE bool live(const float* mask, int b, int t, int T) {
    return mask == nullptr || mask[(idx)b * T + t] != 0;
  }

  /** out[n] = a[n] * b[n]. */
  static void scaled(int n, const float* a, const float* b, float* out) {
    lanes(n, [&](int j, int m) { st(out + j, V::mul(ld(a + j, m), ld(b + j, m)), m); });
  }

  /** The previous state as step s reads it: hs[s], or hs[s] * rdrop written to hm[s]. */
  static const float* stepInput(int B, int H, int s, const float* hs, const float* rdrop,
                                float* hm) {
    const float* h = hs + (idx)s * B * H;
    if (rdrop == nullptr) return h;
    float* m = hm + (idx)s * B * H;
    scaled(B * H, h, rdrop, m);
    return m;
  }

  static const float* readStates(const float* rdrop, const float* hs, const float* hm) {
    return rdrop != nullptr ? hm : hs;
  }

  /** The per-step gate gradients dz[T, B, G] scattered to the input's order: dxw[B*T, G]. */
  static void scatterSteps(int B, int T, int G, bool rev, const float* dz, float* dxw) {
    for (int s = 0; s < T; s++) {
      const int t = stepOf(s, T, rev);
      for (int b = 0; b < B; b++)
        std::memcpy(dxw + ((idx)b * T + t) * G, dz + ((idx)s * B + b) * G, (size_t)G * 4);
    }
  }

  /**
   * Input gradients from the gate gradients: dX = dXW Wᵀ, dW = Xᵀ dXW, db = column sums. Natively,
   * dx may be null: the caller knows the input needs no gradient (training data, not a layer's
   * output), and the product is 4% of an LSTM's work on 16 features. The wasm kernels always get
   * dx (cells.ts): skipping it there would change their digest, and so every stage key.
   */
  static void inputGradients(int B, int T, int F, int G, bool rev, const float* x, const float* w,
                             const float* dz, float* dxw, float* wt, float* dx, float* dw,
                             float* db) {
    scatterSteps(B, T, G, rev, dz, dxw);
    if (dx != nullptr) {
      transpose(F, G, w, G, wt);
      gemm(B * T, F, G, dxw, G, 1, wt, F, dx, F, false);
    }
    gemm(F, G, B * T, x, 1, F, dxw, G, dw, G, false);
    columnSums(B * T, G, dxw, db);
  }

  static void writeOutput(int B, int T, int H, int s, const float* h, float* out) {
    for (int b = 0; b < B; b++)
      std::memcpy(out + ((idx)b * T + s) * H, h + (idx)b * H, (size_t)H * 4);
  }

  /** Adds the incoming gradient of step s's output (out [B, T, H]) to dh [B, H]. */
  static void addOutputGradient(int B, int T, int H, int s, const float* dout, float* dh) {
    for (int b = 0; b < B; b++) {
      const float* src = dout + ((idx)b * T + s) * H;
      float* dst = dh + (idx)b * H;
      lanes(H, [&](int j, int n) { st(dst + j, V::add(ld(dst + j, n), ld(src + j, n)), n); });
    }
  }

  /**
   * Σ p[j]² of rows p[0..3] (each `stride` apart) in rnn.ts's order: four running sums (j mod 4) in
   * one f32x4, a tail sum, ((s0 + s1) + (s2 + s3)) + tail. Four rows at once, so that the sums'
   * additions (a chain of n/4 within a row) overlap across rows.
   */
  static void sumSquares4(const float* p, idx stride, int n, float* out) {
#if defined(__SSE2__)
    __m128 acc[4] = {_mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps()};
    int j = 0;
    for (; j + 4 <= n; j += 4)
      for (int r = 0; r < 4; r++) {
        const __m128 v = _mm_loadu_ps(p + r * stride + j);
        acc[r] = _mm_add_ps(acc[r], _mm_mul_ps(v, v));
      }
    for (int r = 0; r < 4; r++) {
      float l[4];
      _mm_storeu_ps(l, acc[r]);
      float tail = 0;
      for (int k = j; k < n; k++) tail = tail + p[r * stride + k] * p[r * stride + k];
      out[r] = ((l[0] + l[1]) + (l[2] + l[3])) + tail;
    }
#else
    for (int r = 0; r < 4; r++) out[r] = sumSquares(p + r * stride, n);
#endif
  }

  /** Σ p[j]² of one row, in the same order. */
  static float sumSquares(const float* p, int n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      s0 = s0 + p[j] * p[j];
      s1 = s1 + p[j + 1] * p[j + 1];
      s2 = s2 + p[j + 2] * p[j + 2];
      s3 = s3 + p[j + 3] * p[j + 3];
    }
    float tail = 0;
    for (; j < n; j++) tail = tail + p[j] * p[j];
    return ((s0 + s1) + (s2 + s3)) + tail;
  }

  /** dhn[s, b] = ‖dh[b]‖² of each live row at step s, 0 for the others (see rnn.ts's backStep). */
  static void squaredNorms(int B, int T, int H, int s, int t, const float* dh, const float* mask,
                           float* dhn) {
    float* out = dhn + (idx)s * B;
    int b = 0;
    for (; b + 4 <= B; b += 4) sumSquares4(dh + (idx)b * H, H, H, out + b);
    for (; b < B; b++) out[b] = sumSquares(dh + (idx)b * H, H);
    for (b = 0; b < B; b++)
      if (!live(mask, b, t, T)) out[b] = 0.0f;
  }

  /** The saturation counts (see rnn.ts), added to sat[0..2] as int32: integer sums, any order. */
  static void countSaturated(const float* gate, const float* cand, int n, float* sat) {
    const R lo = c(0.01), hi = c(0.99);
    int32_t n0 = 0, n1 = 0, n2 = 0;
    if (gate != nullptr)
      lanes(n, [&](int j, int m) {
        const R g = ld(gate + j, m);
        n0 += V::countLt(g, lo, m);
        n1 += V::countLt(hi, g, m);
      });
    lanes(n, [&](int j, int m) { n2 += V::countLt(hi, V::abs(ld(cand + j, m)), m); });
    int32_t* counts = reinterpret_cast<int32_t*>(sat);
    counts[0] += n0;
    counts[1] += n1;
    counts[2] += n2;
  }

  /** The start of backward step s (see rnn.ts): returns the step's dz rows. */
  static float* backStep(int B, int T, int H, int G, int s, int t, bool seq, const float* dout,
                         float* dh, float* dz, const float* mask, float* dhn) {
    if (seq) addOutputGradient(B, T, H, s, dout, dh);
    if (dhn != nullptr) squaredNorms(B, T, H, s, t, dh, mask, dhn);
    float* dzs = dz + (idx)s * B * G;
    for (int b = 0; b < B; b++)
      if (!live(mask, b, t, T)) std::memset(dzs + (idx)b * G, 0, (size_t)G * 4);
    return dzs;
  }

  /** The end of a backward step (see rnn.ts). */
  static void carryBack(int B, int T, int H, int t, const float* mask, const float* rdrop,
                        float* from, float* dh) {
    if (rdrop != nullptr) scaled(B * H, from, rdrop, from);
    for (int b = 0; b < B; b++)
      if (live(mask, b, t, T)) std::memcpy(dh + (idx)b * H, from + (idx)b * H, (size_t)H * 4);
  }

  // ---- LSTM (gate order i, f, c, o) ----

  static void lstmForward(const LstmForwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H, G = 4 * H;
    gemm(B * T, G, F, a.x, F, 1, a.w, G, a.xw, G, false);
    for (int s = 0; s < T; s++) {
      const int t = stepOf(s, T, a.rev);
      const float* hPrev = a.hs + (idx)s * B * H;
      const float* cPrev = a.cs + (idx)s * B * H;
      float* hNext = a.hs + (idx)(s + 1) * B * H;
      float* cNext = a.cs + (idx)(s + 1) * B * H;
      gemm(B, G, H, stepInput(B, H, s, a.hs, a.rdrop, a.hm), H, 1, a.u, G, a.z, G, false);
      for (int b = 0; b < B; b++) {
        const float* hp = hPrev + (idx)b * H;
        const float* cp = cPrev + (idx)b * H;
        float* hn = hNext + (idx)b * H;
        float* cn = cNext + (idx)b * H;
        if (!live(a.mask, b, t, T)) {
          std::memcpy(hn, hp, (size_t)H * 4);
          std::memcpy(cn, cp, (size_t)H * 4);
          continue;
        }
        const float* zr = a.z + (idx)b * G;
        const float* xr = a.xw + ((idx)b * T + t) * G;
        float* g = a.gates + ((idx)s * B + b) * G;
        float* tcr = a.tc + ((idx)s * B + b) * H;
        const float* bias = a.bias;
        lanes(H, [&](int j, int n) {
          const R zi = V::add(V::add(ld(xr + j, n), ld(zr + j, n)), ld(bias + j, n));
          const R zf = V::add(V::add(ld(xr + H + j, n), ld(zr + H + j, n)), ld(bias + H + j, n));
          const R zc =
              V::add(V::add(ld(xr + 2 * H + j, n), ld(zr + 2 * H + j, n)), ld(bias + 2 * H + j, n));
          const R zo =
              V::add(V::add(ld(xr + 3 * H + j, n), ld(zr + 3 * H + j, n)), ld(bias + 3 * H + j, n));
          const R i = sigmoidv(zi), f = sigmoidv(zf), cc = tanhv(zc), o = sigmoidv(zo);
          const R cv = V::add(V::mul(f, ld(cp + j, n)), V::mul(i, cc));
          const R th = tanhv(cv);
          st(g + j, i, n);
          st(g + H + j, f, n);
          st(g + 2 * H + j, cc, n);
          st(g + 3 * H + j, o, n);
          st(cn + j, cv, n);
          st(tcr + j, th, n);
          st(hn + j, V::mul(o, th), n);
        });
      }
      if (a.seq) writeOutput(B, T, H, s, hNext, a.out);
    }
  }

  static void lstmBackward(const LstmBackwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H, G = 4 * H;
    const R one = c(1.0);
    transpose(H, G, a.u, G, a.ut);
    if (a.sat != nullptr) std::memset(a.sat, 0, 12);
    for (int s = T - 1; s >= 0; s--) {
      const int t = stepOf(s, T, a.rev);
      float* dzs = backStep(B, T, H, G, s, t, a.seq, a.dout, a.dh, a.dz, a.mask, a.dhn);
      for (int b = 0; b < B; b++) {
        if (!live(a.mask, b, t, T)) continue;
        float* dzr = dzs + (idx)b * G;
        const float* g = a.gates + ((idx)s * B + b) * G;
        const float* tcr = a.tc + ((idx)s * B + b) * H;
        const float* cp = a.cs + ((idx)s * B + b) * H;
        const float* dhr = a.dh + (idx)b * H;
        float* dcr = a.dc + (idx)b * H;
        lanes(H, [&](int j, int n) {
          const R i = ld(g + j, n), f = ld(g + H + j, n), cc = ld(g + 2 * H + j, n),
                  o = ld(g + 3 * H + j, n);
          const R th = ld(tcr + j, n);
          const R dhv = ld(dhr + j, n);
          const R dct =
              V::add(ld(dcr + j, n), V::mul(V::mul(dhv, o), V::sub(one, V::mul(th, th))));
          st(dzr + j, V::mul(V::mul(dct, cc), V::mul(i, V::sub(one, i))), n);
          st(dzr + H + j, V::mul(V::mul(dct, ld(cp + j, n)), V::mul(f, V::sub(one, f))), n);
          st(dzr + 2 * H + j, V::mul(V::mul(dct, i), V::sub(one, V::mul(cc, cc))), n);
          st(dzr + 3 * H + j, V::mul(V::mul(dhv, th), V::mul(o, V::sub(one, o))), n);
          st(dcr + j, V::mul(dct, f), n);
        });
        if (a.sat != nullptr) countSaturated(g + H, g + 2 * H, H, a.sat);
      }
      gemm(B, H, G, dzs, G, 1, a.ut, H, a.tmp, H, false);
      carryBack(B, T, H, t, a.mask, a.rdrop, a.tmp, a.dh);
    }
    gemm(H, G, T * B, readStates(a.rdrop, a.hs, a.hm), 1, H, a.dz, G, a.du, G, false);
    inputGradients(B, T, F, G, a.rev, a.x, a.w, a.dz, a.dxw, a.wt, a.dx, a.dw, a.db);
  }

  // ---- GRU (reset gate before the product: gates z, r, h) ----

  static void gruForward(const GruForwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H, G = 3 * H;
    const R one = c(1.0);
    gemm(B * T, G, F, a.x, F, 1, a.w, G, a.xw, G, false);
    for (int s = 0; s < T; s++) {
      const int t = stepOf(s, T, a.rev);
      const float* hState = a.hs + (idx)s * B * H;
      const float* hPrev = stepInput(B, H, s, a.hs, a.rdrop, a.hm);
      float* hNext = a.hs + (idx)(s + 1) * B * H;
      float* rhs = a.rh + (idx)s * B * H;
      gemm(B, 2 * H, H, hPrev, H, 1, a.u, G, a.z, 2 * H, false);
      for (int b = 0; b < B; b++) {
        const float* zr = a.z + (idx)b * 2 * H;
        const float* xr = a.xw + ((idx)b * T + t) * G;
        float* g = a.gates + ((idx)s * B + b) * G;
        const float* hp = hPrev + (idx)b * H;
        float* rr = rhs + (idx)b * H;
        const float* bias = a.bias;
        lanes(H, [&](int j, int n) {
          const R zz = sigmoidv(V::add(V::add(ld(xr + j, n), ld(bias + j, n)), ld(zr + j, n)));
          const R r =
              sigmoidv(V::add(V::add(ld(xr + H + j, n), ld(bias + H + j, n)), ld(zr + H + j, n)));
          st(g + j, zz, n);
          st(g + H + j, r, n);
          st(rr + j, V::mul(r, ld(hp + j, n)), n);
        });
      }
      gemm(B, H, H, rhs, H, 1, a.u + 2 * H, G, a.tmp, H, false);
      for (int b = 0; b < B; b++) {
        const float* hp = hPrev + (idx)b * H;
        float* hn = hNext + (idx)b * H;
        if (!live(a.mask, b, t, T)) {
          std::memcpy(hn, hState + (idx)b * H, (size_t)H * 4);
          continue;
        }
        const float* xr = a.xw + ((idx)b * T + t) * G;
        float* g = a.gates + ((idx)s * B + b) * G;
        const float* tr = a.tmp + (idx)b * H;
        const float* bias = a.bias;
        lanes(H, [&](int j, int n) {
          const R hh = tanhv(
              V::add(V::add(ld(xr + 2 * H + j, n), ld(bias + 2 * H + j, n)), ld(tr + j, n)));
          const R zz = ld(g + j, n);
          st(g + 2 * H + j, hh, n);
          st(hn + j, V::add(V::mul(zz, ld(hp + j, n)), V::mul(V::sub(one, zz), hh)), n);
        });
      }
      if (a.seq) writeOutput(B, T, H, s, hNext, a.out);
    }
  }

  static void gruBackward(const GruBackwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H, G = 3 * H;
    const R one = c(1.0);
    const float* prev = readStates(a.rdrop, a.hs, a.hm);
    transpose(H, 2 * H, a.u, G, a.uzrt);
    transpose(H, H, a.u + 2 * H, G, a.uht);
    if (a.sat != nullptr) std::memset(a.sat, 0, 12);
    for (int s = T - 1; s >= 0; s--) {
      const int t = stepOf(s, T, a.rev);
      float* dzs = backStep(B, T, H, G, s, t, a.seq, a.dout, a.dh, a.dz, a.mask, a.dhn);
      for (int b = 0; b < B; b++) {
        if (!live(a.mask, b, t, T)) continue;
        float* dzr = dzs + (idx)b * G;
        const float* g = a.gates + ((idx)s * B + b) * G;
        const float* dhr = a.dh + (idx)b * H;
        lanes(H, [&](int j, int n) {
          const R zz = ld(g + j, n), hh = ld(g + 2 * H + j, n);
          st(dzr + 2 * H + j,
             V::mul(V::mul(ld(dhr + j, n), V::sub(one, zz)), V::sub(one, V::mul(hh, hh))), n);
        });
        if (a.sat != nullptr) countSaturated(g, g + 2 * H, H, a.sat);
      }
      gemm(B, H, H, dzs + 2 * H, G, 1, a.uht, H, a.tmp, H, false);
      for (int b = 0; b < B; b++) {
        if (!live(a.mask, b, t, T)) continue;
        float* dzr = dzs + (idx)b * G;
        const float* g = a.gates + ((idx)s * B + b) * G;
        const float* dhr = a.dh + (idx)b * H;
        const float* hp = prev + ((idx)s * B + b) * H;
        const float* dr = a.tmp + (idx)b * H;
        float* ar = a.acc + (idx)b * H;
        lanes(H, [&](int j, int n) {
          const R zz = ld(g + j, n), r = ld(g + H + j, n), hh = ld(g + 2 * H + j, n);
          const R d = ld(dhr + j, n), h = ld(hp + j, n), drh = ld(dr + j, n);
          st(dzr + j, V::mul(V::mul(d, V::sub(h, hh)), V::mul(zz, V::sub(one, zz))), n);
          st(dzr + H + j, V::mul(V::mul(drh, h), V::mul(r, V::sub(one, r))), n);
          st(ar + j, V::add(V::mul(d, zz), V::mul(drh, r)), n);
        });
      }
      gemm(B, H, 2 * H, dzs, G, 1, a.uzrt, H, a.acc, H, true);
      carryBack(B, T, H, t, a.mask, a.rdrop, a.acc, a.dh);
    }
    gemm(H, 2 * H, T * B, prev, 1, H, a.dz, G, a.du, G, false);
    gemm(H, H, T * B, a.rh, 1, H, a.dz + 2 * H, G, a.du + 2 * H, G, false);
    inputGradients(B, T, F, G, a.rev, a.x, a.w, a.dz, a.dxw, a.wt, a.dx, a.dw, a.db);
  }

  // ---- SimpleRNN (tanh) ----

  static void simpleForward(const SimpleForwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H;
    gemm(B * T, H, F, a.x, F, 1, a.w, H, a.xw, H, false);
    for (int s = 0; s < T; s++) {
      const int t = stepOf(s, T, a.rev);
      const float* hPrev = a.hs + (idx)s * B * H;
      float* hNext = a.hs + (idx)(s + 1) * B * H;
      gemm(B, H, H, stepInput(B, H, s, a.hs, a.rdrop, a.hm), H, 1, a.u, H, a.z, H, false);
      for (int b = 0; b < B; b++) {
        const float* hp = hPrev + (idx)b * H;
        float* hn = hNext + (idx)b * H;
        if (!live(a.mask, b, t, T)) {
          std::memcpy(hn, hp, (size_t)H * 4);
          continue;
        }
        const float* xr = a.xw + ((idx)b * T + t) * H;
        const float* zr = a.z + (idx)b * H;
        const float* bias = a.bias;
        lanes(H, [&](int j, int n) {
          st(hn + j, tanhv(V::add(V::add(ld(xr + j, n), ld(bias + j, n)), ld(zr + j, n))), n);
        });
      }
      if (a.seq) writeOutput(B, T, H, s, hNext, a.out);
    }
  }

  static void simpleBackward(const SimpleBackwardArgs& a) {
    const int B = a.B, T = a.T, F = a.F, H = a.H;
    const R one = c(1.0);
    transpose(H, H, a.u, H, a.ut);
    if (a.sat != nullptr) std::memset(a.sat, 0, 12);
    for (int s = T - 1; s >= 0; s--) {
      const int t = stepOf(s, T, a.rev);
      float* dzs = backStep(B, T, H, H, s, t, a.seq, a.dout, a.dh, a.dz, a.mask, a.dhn);
      for (int b = 0; b < B; b++) {
        if (!live(a.mask, b, t, T)) continue;
        float* dzr = dzs + (idx)b * H;
        const float* hn = a.hs + ((idx)(s + 1) * B + b) * H;
        const float* dhr = a.dh + (idx)b * H;
        lanes(H, [&](int j, int n) {
          const R h = ld(hn + j, n);
          st(dzr + j, V::mul(ld(dhr + j, n), V::sub(one, V::mul(h, h))), n);
        });
        if (a.sat != nullptr) countSaturated(nullptr, hn, H, a.sat);
      }
      gemm(B, H, H, dzs, H, 1, a.ut, H, a.tmp, H, false);
      carryBack(B, T, H, t, a.mask, a.rdrop, a.tmp, a.dh);
    }
    gemm(H, H, T * B, readStates(a.rdrop, a.hs, a.hm), 1, H, a.dz, H, a.du, H, false);
    inputGradients(B, T, F, H, a.rev, a.x, a.w, a.dz, a.dxw, a.wt, a.dx, a.dw, a.db);
  }

  static constexpr KernelTable table(const char* isa) {
    return KernelTable{isa,           lstmForward,   lstmBackward,  gruForward,
                       gruBackward,   simpleForward, simpleBackward};
  }
};

}  // namespace rnnp
