// Vectors of W float32 lanes, with exactly the lane-wise operations the kernels use, each giving
// the bits WebAssembly's f32x4 operation gives (IEEE single precision, round to nearest even,
// denormals kept): add, sub, mul, div, floor; pmin/pmax with WebAssembly's operand rule (a NaN in
// the first operand passes through); bitwise and/or; the comparison lt; mulBroadcast (a vector
// times one float read from memory: mul with that float's set1). No fused multiply-add anywhere:
// the kernels are built with -ffp-contract=off and no -ffast-math, and a test checks the add-on
// holds no FMA instruction.
//
// `n` lanes (1 <= n <= W) of a partial vector: loads fill the others with zeros, stores leave them.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace rnnp {

// One lane at a time: the portable build (and what the vector ones must agree with).
struct Scalar {
  using R = float;
  static constexpr int W = 1;
  static R zero() { return 0.0f; }
  static R set1(float x) { return x; }
  static R load(const float* p) { return *p; }
  static R loadn(const float* p, int) { return *p; }
  static void store(float* p, R v) { *p = v; }
  static void storen(float* p, R v, int) { *p = v; }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  // b times the float at p in every lane (a product's step: a broadcast element of A times B).
  static R mulBroadcast(R b, const float* p) { return *p * b; }
  static R floor(R a) { return std::floor(a); }
  // WebAssembly: pmin(a, b) = b < a ? b : a; pmax(a, b) = a < b ? b : a.
  static R pmin(R a, R b) { return b < a ? b : a; }
  static R pmax(R a, R b) { return a < b ? b : a; }
  static uint32_t bits(R a) {
    uint32_t u;
    std::memcpy(&u, &a, 4);
    return u;
  }
  static R of(uint32_t u) {
    R a;
    std::memcpy(&a, &u, 4);
    return a;
  }
  static R abs(R a) { return of(bits(a) & 0x7fffffffu); }
  static R neg(R a) { return of(bits(a) ^ 0x80000000u); }
  static R signOf(R a) { return of(bits(a) & 0x80000000u); }
  static R orBits(R a, R b) { return of(bits(a) | bits(b)); }
  // The lanes' integers shifted into the exponent: i32x4.shl(v, 23) on the float's bits.
  static R shl23(R a) { return of(bits(a) << 23); }
  // lt(a, b) ? then : otherwise (false for NaN, as f32x4.lt).
  static R ltSelect(R a, R b, R then, R otherwise) { return a < b ? then : otherwise; }
  // How many of the first n lanes have a < b (false for NaN, as f32x4.lt).
  static int countLt(R a, R b, int) { return a < b; }
};

#if defined(__AVX512F__)
struct Avx512 {
  using R = __m512;
  static constexpr int W = 16;
  static __mmask16 lanes(int n) { return (__mmask16)((1u << n) - 1u); }
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(float x) { return _mm512_set1_ps(x); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static R loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes(n), p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static void storen(float* p, R v, int n) { _mm512_mask_storeu_ps(p, lanes(n), v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  // The broadcast folded into the multiply ({1to16}: a load, no shuffle). A separate vbroadcastss
  // takes a slot of the vector pipes that the products' multiplies and adds fill (Zen 4: a 4 x 6
  // tile at 95-99 GFLOP/s with it, 110-117 without). GCC folds a broadcast only when it has one use,
  // and a tile uses each of A's elements NV times, hence the instruction written out. The same
  // product as mul(set1(*p), b): IEEE multiplication commutes (only a NaN's payload may differ,
  // which WebAssembly leaves to the engine).
  static R mulBroadcast(R b, const float* p) {
#if defined(__GNUC__) && !defined(__clang__)
    R r;
    __asm__("vmulps %1%{1to16%}, %2, %0" : "=v"(r) : "m"(*p), "v"(b));
    return r;
#else
    // Other compilers (the escapes above are GCC's, checked with GCC 12 only): the intrinsics.
    return _mm512_mul_ps(_mm512_set1_ps(*p), b);
#endif
  }
  static R floor(R a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  // x86's min(a, b) is a < b ? a : b (the second operand when either is NaN): pmin(a, b) = min(b, a).
  static R pmin(R a, R b) { return _mm512_min_ps(b, a); }
  static R pmax(R a, R b) { return _mm512_max_ps(b, a); }
  static R andBits(R a, uint32_t m) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)m)));
  }
  static R abs(R a) { return andBits(a, 0x7fffffffu); }
  static R neg(R a) {
    return _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u)));
  }
  static R signOf(R a) { return andBits(a, 0x80000000u); }
  static R orBits(R a, R b) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  }
  static R shl23(R a) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(a), 23)); }
  static R ltSelect(R a, R b, R then, R otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, then);
  }
  static int countLt(R a, R b, int n) {
    return __builtin_popcount(_mm512_mask_cmp_ps_mask(lanes(n), a, b, _CMP_LT_OQ));
  }
};
#endif

#if defined(__AVX2__)
struct Avx2 {
  using R = __m256;
  static constexpr int W = 8;
  static __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(float x) { return _mm256_set1_ps(x); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R loadn(const float* p, int n) { return _mm256_maskload_ps(p, lanes(n)); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static void storen(float* p, R v, int n) { _mm256_maskstore_ps(p, lanes(n), v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R mulBroadcast(R b, const float* p) { return _mm256_mul_ps(_mm256_set1_ps(*p), b); }
  static R floor(R a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static R pmin(R a, R b) { return _mm256_min_ps(b, a); }
  static R pmax(R a, R b) { return _mm256_max_ps(b, a); }
  static R abs(R a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static R neg(R a) {
    return _mm256_xor_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)));
  }
  static R signOf(R a) {
    return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)));
  }
  static R orBits(R a, R b) { return _mm256_or_ps(a, b); }
  static R shl23(R a) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(a), 23)); }
  static R ltSelect(R a, R b, R then, R otherwise) {
    return _mm256_blendv_ps(otherwise, then, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static int countLt(R a, R b, int n) {
    const unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_LT_OQ));
    return __builtin_popcount(m & ((1u << n) - 1u));
  }
};
#endif

}  // namespace rnnp
