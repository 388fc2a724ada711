// rnnp's fused recurrent kernels (AssemblyScript, compiled to WebAssembly with SIMD by `npm run
// kernels`; ported bit for bit to native code in native/rnn.h). A whole sequence runs in one call:
// the input projection of every step in one matrix product, one recurrent product per step, gate
// math in SIMD loops, and, backwards, the weight gradients in one product each at the end.
// Everything is single-threaded in a fixed order, so the bytes are the same on every machine that
// runs WebAssembly (and on the native build, which keeps every operation's order).
//
// The ABI. The six exported kernels' arguments are declared once, in
// src/stages/numerics/fused/abi.ts, which builds the calls by name for both builds; the tables above
// the kernels are rendered from it, and test/numerics/abi.test.ts fails when this file's signatures
// or tables, or native/abi.h's lists, drift from it.
// - Dimensions: B rows (sequences of one chunk of the batch), T steps, F input features, H units,
//   G = gates x H (LSTM 4H, GRU 3H, SimpleRNN H).
// - Buffers are float32 arrays (but sat: int32 counts), row-major, given as byte offsets; an absent
//   optional buffer is 0.
//   Shapes list axes outermost first: [B, T, F] is batch-major (one row of steps per sequence),
//   [S, B, H] time-major (one [B, H] slab per step). T is an axis by input step t, S an axis by
//   processing step s; both have T entries, t = rev ? T-1-s : s (a layer that reads backwards).
//   S+1 has one more entry, in front: state arrays hold the initial state at [0] and the state after
//   step s at [s+1].
// - Roles: weights (shared by every chunk), input (written by the caller), state (the caller writes
//   [0], forward the rest; kept for backward), tape (written by forward, read by backward), inout,
//   output (written here, read by the caller), scratch (meaningless outside the call).
// - Masks are [B, T] floats: 0 means "skip this step: carry the state" (its gradients pass through).
// - Recurrent dropout (rdrop [B, H], one mask per sequence) multiplies the previous state where a
//   step reads it (the carried state stays whole); hm keeps what the steps read, for backward.
// - Gradients of a chunk's weights cover its rows only; the caller sums chunks in chunk order.
//
// Notation in the equations: ⊙ elementwise product, σ the logistic sigmoid, ĥ = hm[s] (= hs[s] ⊙ rdrop)
// with recurrent dropout and hs[s] without, xₜ the input row of step s. The equations fix the
// mathematics; the code fixes the rounding (every operation's order is part of the contract).

const ONE = f32x4.splat(1);

// ---- element-wise math, 4 lanes at a time (Cephes' single-precision approximations) ----

// @ts-ignore: decorator
@inline function expv(v: v128): v128 {
  // pmin/pmax (one instruction each) rather than min/max (NaN and -0 rules, several): v first, so a
  // NaN passes through them.
  const x0 = f32x4.pmin(f32x4.pmax(v, f32x4.splat(-87.0)), f32x4.splat(88.0));
  const fx = f32x4.floor(f32x4.add(f32x4.mul(x0, f32x4.splat(1.44269504088896341)), f32x4.splat(0.5)));
  let x = f32x4.sub(x0, f32x4.mul(fx, f32x4.splat(0.693359375)));
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)));
  const z = f32x4.mul(x, x);
  let y = f32x4.splat(1.9875691500e-4);
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.3981999507e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(8.3334519073e-3));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(4.1665795894e-2));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.6666665459e-1));
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(5.0000001201e-1));
  y = f32x4.add(f32x4.add(f32x4.mul(y, z), x), ONE);
  // 2^fx built in the exponent bits: adding 1.5 * 2^23 leaves the integer fx + 127 in the low
  // mantissa bits (as an exact conversion would, and cheaper than trunc_sat's saturation fix-ups).
  const pow2n = i32x4.shl(f32x4.add(fx, f32x4.splat(12583039.0)), 23);
  return f32x4.mul(y, pow2n);
}

// @ts-ignore: decorator
@inline function sigmoidv(x: v128): v128 {
  return f32x4.div(ONE, f32x4.add(ONE, expv(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline function tanhv(x: v128): v128 {
  const ax = f32x4.abs(x);
  // |x| >= 0.625: 1 - 2 / (e^2|x| + 1), with x's sign; below, a polynomial keeps small values exact.
  const big = v128.or(f32x4.sub(ONE, f32x4.div(f32x4.splat(2), f32x4.add(expv(f32x4.add(ax, ax)), ONE))), v128.and(x, i32x4.splat(0x80000000)));
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  return v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
}

// Scalar versions are lane 0 of the vector ones: a value gets the same bits wherever it sits.
// @ts-ignore: decorator
@inline function sigmoid1(x: f32): f32 {
  return f32x4.extract_lane(sigmoidv(f32x4.splat(x)), 0);
}
// @ts-ignore: decorator
@inline function tanh1(x: f32): f32 {
  return f32x4.extract_lane(tanhv(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline function ld(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline function st(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}
// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

export function heapBase(): usize {
  return __heap_base;
}

// ---- matrix products ----

/** Depth of one pass over B: 256 rows of a 512-wide B are 512 KiB, which stay in cache across rows of A. */
const KC = 256;

/**
 * C[M,N] = (acc ? C : 0) + A[M,K] B[K,N]. A's element (i, k) is at a[i*ars + k*acs], so A may be a
 * transposed view; B and C are row-major with leading dimensions ldb and ldc. Sums run over k in
 * order within passes of KC, each pass added to C: a fixed order, whatever the shapes.
 */
export function gemm(M: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const ak = at(a, k0 * acs);
    const bk = at(b, k0 * ldb);
    const accumulate = acc || k0 > 0;
    let i = 0;
    for (; i + 4 <= M; i += 4) rows4(i, N, kc, ak, ars, acs, bk, ldb, c, ldc, accumulate);
    for (; i < M; i++) rows1(i, N, kc, ak, ars, acs, bk, ldb, c, ldc, accumulate);
  }
}

function rows4(i: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  const pa = at(a, i * ars);
  const ra = <usize>ars << 2;
  const sa = <usize>acs << 2;
  const sb = <usize>ldb << 2;
  const sc = <usize>ldc << 2;
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let p0 = pa;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let x = v128.load32_splat(p0);
      c00 = f32x4.add(c00, f32x4.mul(x, b0));
      c01 = f32x4.add(c01, f32x4.mul(x, b1));
      x = v128.load32_splat(p0 + ra);
      c10 = f32x4.add(c10, f32x4.mul(x, b0));
      c11 = f32x4.add(c11, f32x4.mul(x, b1));
      x = v128.load32_splat(p0 + 2 * ra);
      c20 = f32x4.add(c20, f32x4.mul(x, b0));
      c21 = f32x4.add(c21, f32x4.mul(x, b1));
      x = v128.load32_splat(p0 + 3 * ra);
      c30 = f32x4.add(c30, f32x4.mul(x, b0));
      c31 = f32x4.add(c31, f32x4.mul(x, b1));
      p0 += sa;
      pb += sb;
    }
    const pc = at(c, i * ldc + j);
    if (acc) {
      c00 = f32x4.add(v128.load(pc), c00);
      c01 = f32x4.add(v128.load(pc, 16), c01);
      c10 = f32x4.add(v128.load(pc + sc), c10);
      c11 = f32x4.add(v128.load(pc + sc, 16), c11);
      c20 = f32x4.add(v128.load(pc + 2 * sc), c20);
      c21 = f32x4.add(v128.load(pc + 2 * sc, 16), c21);
      c30 = f32x4.add(v128.load(pc + 3 * sc), c30);
      c31 = f32x4.add(v128.load(pc + 3 * sc, 16), c31);
    }
    v128.store(pc, c00);
    v128.store(pc, c01, 16);
    v128.store(pc + sc, c10);
    v128.store(pc + sc, c11, 16);
    v128.store(pc + 2 * sc, c20);
    v128.store(pc + 2 * sc, c21, 16);
    v128.store(pc + 3 * sc, c30);
    v128.store(pc + 3 * sc, c31, 16);
  }
  for (; j + 4 <= N; j += 4) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let p0 = pa;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      const b0 = v128.load(pb);
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), b0));
      c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(p0 + ra), b0));
      c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(p0 + 2 * ra), b0));
      c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(p0 + 3 * ra), b0));
      p0 += sa;
      pb += sb;
    }
    const pc = at(c, i * ldc + j);
    if (acc) {
      c0 = f32x4.add(v128.load(pc), c0);
      c1 = f32x4.add(v128.load(pc + sc), c1);
      c2 = f32x4.add(v128.load(pc + 2 * sc), c2);
      c3 = f32x4.add(v128.load(pc + 3 * sc), c3);
    }
    v128.store(pc, c0);
    v128.store(pc + sc, c1);
    v128.store(pc + 2 * sc, c2);
    v128.store(pc + 3 * sc, c3);
  }
  for (; j < N; j++) for (let r = 0; r < 4; r++) dot1(i + r, j, K, a, ars, acs, b, ldb, c, ldc, acc);
}

function rows1(i: i32, N: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  const pa = at(a, i * ars);
  const sa = <usize>acs << 2;
  const sb = <usize>ldb << 2;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    let c0 = f32x4.splat(0);
    let p0 = pa;
    let pb = at(b, j);
    for (let k = 0; k < K; k++) {
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), v128.load(pb)));
      p0 += sa;
      pb += sb;
    }
    const pc = at(c, i * ldc + j);
    v128.store(pc, acc ? f32x4.add(v128.load(pc), c0) : c0);
  }
  for (; j < N; j++) dot1(i, j, K, a, ars, acs, b, ldb, c, ldc, acc);
}

function dot1(i: i32, j: i32, K: i32, a: usize, ars: i32, acs: i32, b: usize, ldb: i32, c: usize, ldc: i32, acc: bool): void {
  let s: f32 = 0;
  for (let k = 0; k < K; k++) s += ld(a, i * ars + k * acs) * ld(b, k * ldb + j);
  st(c, i * ldc + j, acc ? ld(c, i * ldc + j) + s : s);
}

/** dst[cols, rows] = src[rows, cols]ᵀ, src with leading dimension lds: 4x4 blocks in registers, then the edges. */
export function transpose(rows: i32, cols: i32, src: usize, lds: i32, dst: usize): void {
  const R = rows & ~3, C = cols & ~3;
  for (let r = 0; r < R; r += 4) {
    for (let c = 0; c < C; c += 4) {
      const a0 = v128.load(at(src, r * lds + c)), a1 = v128.load(at(src, (r + 1) * lds + c));
      const a2 = v128.load(at(src, (r + 2) * lds + c)), a3 = v128.load(at(src, (r + 3) * lds + c));
      const t0 = f32x4.shuffle(a0, a1, 0, 4, 1, 5), t1 = f32x4.shuffle(a0, a1, 2, 6, 3, 7);
      const t2 = f32x4.shuffle(a2, a3, 0, 4, 1, 5), t3 = f32x4.shuffle(a2, a3, 2, 6, 3, 7);
      v128.store(at(dst, c * rows + r), f32x4.shuffle(t0, t2, 0, 1, 4, 5));
      v128.store(at(dst, (c + 1) * rows + r), f32x4.shuffle(t0, t2, 2, 3, 6, 7));
      v128.store(at(dst, (c + 2) * rows + r), f32x4.shuffle(t1, t3, 0, 1, 4, 5));
      v128.store(at(dst, (c + 3) * rows + r), f32x4.shuffle(t1, t3, 2, 3, 6, 7));
    }
    for (let c = C; c < cols; c++) for (let i = r; i < r + 4; i++) st(dst, c * rows + i, ld(src, i * lds + c));
  }
  for (let r = R; r < rows; r++) for (let c = 0; c < cols; c++) st(dst, c * rows + r, ld(src, r * lds + c));
}

/** out[N] = sum of the rows of m[R, N] (in row order). */
function columnSums(R: i32, N: i32, m: usize, out: usize): void {
  memory.fill(out, 0, <usize>N << 2);
  for (let r = 0; r < R; r++) {
    const row = at(m, r * N);
    let j = 0;
    for (; j + 4 <= N; j += 4) v128.store(at(out, j), f32x4.add(v128.load(at(out, j)), v128.load(at(row, j))));
    for (; j < N; j++) st(out, j, ld(out, j) + ld(row, j));
  }
}

// @ts-ignore: decorator
@inline function stepOf(s: i32, T: i32, rev: bool): i32 {
  return rev ? T - 1 - s : s;
}
// @ts-ignore: decorator
@inline function live(mask: usize, b: i32, t: i32, T: i32): bool {
  return mask == 0 || ld(mask, b * T + t) != 0;
}

// Recurrent dropout, as TF.js's cells apply it: one mask per sequence, rdrop [B, H] (0: none),
// multiplies the previous state where the step reads it; the state itself (carried, output) stays
// whole. hm [T, B, H] keeps the masked states for the backward pass.

/** The previous state as step s reads it: hs[s], or hs[s] * rdrop written to hm[s]. */
function stepInput(B: i32, H: i32, s: i32, hs: usize, rdrop: usize, hm: usize): usize {
  const h = at(hs, s * B * H);
  if (rdrop == 0) return h;
  const m = at(hm, s * B * H);
  scaled(B * H, h, rdrop, m);
  return m;
}

/** out[n] = a[n] * b[n]. */
function scaled(n: i32, a: usize, b: usize, out: usize): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) v128.store(at(out, j), f32x4.mul(v128.load(at(a, j)), v128.load(at(b, j))));
  for (; j < n; j++) st(out, j, ld(a, j) * ld(b, j));
}

/** The previous states as the steps read them (hm with recurrent dropout, else hs): what dU sums over. */
// @ts-ignore: decorator
@inline function readStates(rdrop: usize, hs: usize, hm: usize): usize {
  return rdrop != 0 ? hm : hs;
}

/** The per-step gate gradients dz[T, B, G] scattered to the input's order: dxw[B*T, G]. */
function scatterSteps(B: i32, T: i32, G: i32, rev: bool, dz: usize, dxw: usize): void {
  for (let s = 0; s < T; s++) {
    const t = stepOf(s, T, rev);
    for (let b = 0; b < B; b++) memory.copy(at(dxw, (b * T + t) * G), at(dz, (s * B + b) * G), <usize>G << 2);
  }
}

/** Input gradients from the gate gradients: dX = dXW Wᵀ, dW = Xᵀ dXW, db = column sums. */
function inputGradients(B: i32, T: i32, F: i32, G: i32, rev: bool, x: usize, w: usize, dz: usize, dxw: usize, wt: usize, dx: usize, dw: usize, db: usize): void {
  scatterSteps(B, T, G, rev, dz, dxw);
  transpose(F, G, w, G, wt);
  gemm(B * T, F, G, dxw, G, 1, wt, F, dx, F, false);
  gemm(F, G, B * T, x, 1, F, dxw, G, dw, G, false);
  columnSums(B * T, G, dxw, db);
}

function writeOutput(B: i32, T: i32, H: i32, s: i32, h: usize, out: usize): void {
  for (let b = 0; b < B; b++) memory.copy(at(out, (b * T + s) * H), at(h, b * H), <usize>H << 2);
}

/** Adds the incoming gradient of step s's output (out [B, T, H]) to dh [B, H]. */
function addOutputGradient(B: i32, T: i32, H: i32, s: i32, dout: usize, dh: usize): void {
  for (let b = 0; b < B; b++) {
    const src = at(dout, (b * T + s) * H);
    const dst = at(dh, b * H);
    let j = 0;
    for (; j + 4 <= H; j += 4) v128.store(at(dst, j), f32x4.add(v128.load(at(dst, j)), v128.load(at(src, j))));
    for (; j < H; j++) st(dst, j, ld(dst, j) + ld(src, j));
  }
}

/**
 * Σ p[j]² over n floats, in a fixed order the native port repeats: four running sums (j mod 4) over
 * the whole vectors, a scalar sum over the tail, then ((s0 + s1) + (s2 + s3)) + tail.
 */
function sumSquares(p: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(at(p, j));
    acc = f32x4.add(acc, f32x4.mul(v, v));
  }
  let tail: f32 = 0;
  for (; j < n; j++) tail += ld(p, j) * ld(p, j);
  return ((f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3))) + tail;
}

/**
 * The gradient-flow monitor's saturation counts (int32, added to sat[0..2]): of n gate values (a
 * forget or update gate; none when gate is 0), those below 0.01 and above 0.99; of n candidates (a
 * tanh), those beyond ±0.99. Integer sums: their order changes nothing.
 */
function countSaturated(gate: usize, cand: usize, n: i32, sat: usize): void {
  const lo = f32x4.splat(0.01), hi = f32x4.splat(0.99);
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0);
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    if (gate != 0) {
      const g = v128.load(at(gate, j));
      c0 = i32x4.sub(c0, f32x4.lt(g, lo));
      c1 = i32x4.sub(c1, f32x4.gt(g, hi));
    }
    c2 = i32x4.sub(c2, f32x4.gt(f32x4.abs(v128.load(at(cand, j))), hi));
  }
  let n0 = i32x4.extract_lane(c0, 0) + i32x4.extract_lane(c0, 1) + i32x4.extract_lane(c0, 2) + i32x4.extract_lane(c0, 3);
  let n1 = i32x4.extract_lane(c1, 0) + i32x4.extract_lane(c1, 1) + i32x4.extract_lane(c1, 2) + i32x4.extract_lane(c1, 3);
  let n2 = i32x4.extract_lane(c2, 0) + i32x4.extract_lane(c2, 1) + i32x4.extract_lane(c2, 2) + i32x4.extract_lane(c2, 3);
  for (; j < n; j++) {
    if (gate != 0) {
      const g = ld(gate, j);
      if (g < <f32>0.01) n0++;
      if (g > <f32>0.99) n1++;
    }
    if (abs(ld(cand, j)) > <f32>0.99) n2++;
  }
  store<i32>(sat, load<i32>(sat) + n0);
  store<i32>(sat, load<i32>(sat, 4) + n1, 4);
  store<i32>(sat, load<i32>(sat, 8) + n2, 8);
}

/**
 * The start of backward step s: adds the step's output gradient to dh; when the gradient-flow
 * monitor asks (dhn), keeps ‖dh‖² of each live row (d loss / d h after step s; 0 for skipped rows);
 * and zeroes the gate gradients of the rows the mask skips (their state passed through unchanged).
 * Returns the step's dz rows.
 */
function backStep(B: i32, T: i32, H: i32, G: i32, s: i32, t: i32, seq: bool, dout: usize, dh: usize, dz: usize, mask: usize, dhn: usize): usize {
  if (seq) addOutputGradient(B, T, H, s, dout, dh);
  if (dhn != 0) for (let b = 0; b < B; b++) st(dhn, s * B + b, live(mask, b, t, T) ? sumSquares(at(dh, b * H), H) : 0);
  const dzs = at(dz, s * B * G);
  for (let b = 0; b < B; b++) if (!live(mask, b, t, T)) memory.fill(at(dzs, b * G), 0, <usize>G << 2);
  return dzs;
}

/**
 * The end of a backward step: `from` holds the gradient with respect to the previous state as the
 * step read it (masked by recurrent dropout: unmasked here); live rows take it, skipped rows keep theirs.
 */
function carryBack(B: i32, T: i32, H: i32, t: i32, mask: usize, rdrop: usize, from: usize, dh: usize): void {
  if (rdrop != 0) scaled(B * H, from, rdrop, from);
  for (let b = 0; b < B; b++) if (live(mask, b, t, T)) memory.copy(at(dh, b * H), at(from, b * H), <usize>H << 2);
}

// ---- LSTM (TF.js/Keras gate order i, f, c, o; tanh and sigmoid) ----

/**
 * LSTM forward (TF.js/Keras gate order i, f, c̃, o; bias after the sum of the products), for each step
 * s and live row b, with h = hs[s], c = cs[s]:
 *   [z_i z_f z_c z_o] = (xₜ w + ĥ u) + bias
 *   i = σ(z_i), f = σ(z_f), c̃ = tanh(z_c), o = σ(z_o)
 *   c' = f ⊙ c + i ⊙ c̃,  h' = o ⊙ tanh(c')         (cs[s+1], hs[s+1]; out[b, s] = h' with seq)
 * A row whose mask is 0 at t carries h and c unchanged.
 *
 * Arguments:
 *   B      i32                               rows (sequences) in this chunk
 *   T      i32                               steps
 *   F      i32                               input features
 *   H      i32                               units
 *   x      [B, T, F]    input                the layer's inputs
 *   w      [F, G]       weights              input kernel, gates side by side
 *   u      [H, G]       weights              recurrent kernel, gates side by side
 *   bias   [G]          weights              bias
 *   mask   [B, T]       input if masked      1 = run the step, 0 = carry the state
 *   rev    bool                              step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout     recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout      hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   xw     [B, T, G]    scratch              x w: every step's input projection
 *   z      [B, G]       scratch              one step's h u
 *   gates  [S, B, G]    tape                 i, f, c̃, o after their activations
 *   hs     [S+1, B, H]  state                hs[0] the initial h (from the caller), hs[s+1] h after step s
 *   cs     [S+1, B, H]  state                cs[0] the initial c, cs[s+1] c after step s
 *   tc     [S, B, H]    tape                 tanh(c) of step s
 *   out    [B, S, H]    output if sequences  every step's h, in processing order (as TF.js returns it)
 *   seq    bool                              give every step's output (out), not only the last
 */
export function lstmForward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, bias: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  xw: usize, z: usize,
  gates: usize, hs: usize, cs: usize, tc: usize, out: usize, seq: bool,
): void {
  const G = 4 * H;
  gemm(B * T, G, F, x, F, 1, w, G, xw, G, false);
  for (let s = 0; s < T; s++) {
    const t = stepOf(s, T, rev);
    const hPrev = at(hs, s * B * H), cPrev = at(cs, s * B * H);
    const hNext = at(hs, (s + 1) * B * H), cNext = at(cs, (s + 1) * B * H);
    gemm(B, G, H, stepInput(B, H, s, hs, rdrop, hm), H, 1, u, G, z, G, false);
    for (let b = 0; b < B; b++) {
      const hp = at(hPrev, b * H), cp = at(cPrev, b * H), hn = at(hNext, b * H), cn = at(cNext, b * H);
      if (!live(mask, b, t, T)) {
        memory.copy(hn, hp, <usize>H << 2);
        memory.copy(cn, cp, <usize>H << 2);
        continue;
      }
      const zr = at(z, b * G), xr = at(xw, (b * T + t) * G), g = at(gates, (s * B + b) * G), tcr = at(tc, (s * B + b) * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const zi = f32x4.add(f32x4.add(v128.load(at(xr, j)), v128.load(at(zr, j))), v128.load(at(bias, j)));
        const zf = f32x4.add(f32x4.add(v128.load(at(xr, H + j)), v128.load(at(zr, H + j))), v128.load(at(bias, H + j)));
        const zc = f32x4.add(f32x4.add(v128.load(at(xr, 2 * H + j)), v128.load(at(zr, 2 * H + j))), v128.load(at(bias, 2 * H + j)));
        const zo = f32x4.add(f32x4.add(v128.load(at(xr, 3 * H + j)), v128.load(at(zr, 3 * H + j))), v128.load(at(bias, 3 * H + j)));
        const i = sigmoidv(zi), f = sigmoidv(zf), cc = tanhv(zc), o = sigmoidv(zo);
        const c = f32x4.add(f32x4.mul(f, v128.load(at(cp, j))), f32x4.mul(i, cc));
        const th = tanhv(c);
        v128.store(at(g, j), i);
        v128.store(at(g, H + j), f);
        v128.store(at(g, 2 * H + j), cc);
        v128.store(at(g, 3 * H + j), o);
        v128.store(at(cn, j), c);
        v128.store(at(tcr, j), th);
        v128.store(at(hn, j), f32x4.mul(o, th));
      }
      for (; j < H; j++) {
        const i = sigmoid1(ld(xr, j) + ld(zr, j) + ld(bias, j));
        const f = sigmoid1(ld(xr, H + j) + ld(zr, H + j) + ld(bias, H + j));
        const cc = tanh1(ld(xr, 2 * H + j) + ld(zr, 2 * H + j) + ld(bias, 2 * H + j));
        const o = sigmoid1(ld(xr, 3 * H + j) + ld(zr, 3 * H + j) + ld(bias, 3 * H + j));
        const c = f * ld(cp, j) + i * cc;
        const th = tanh1(c);
        st(g, j, i);
        st(g, H + j, f);
        st(g, 2 * H + j, cc);
        st(g, 3 * H + j, o);
        st(cn, j, c);
        st(tcr, j, th);
        st(hn, j, o * th);
      }
    }
    if (seq) writeOutput(B, T, H, s, hNext, out);
  }
}

/**
 * Backpropagation through time for lstmForward. dh and dc hold the gradients of the final states on
 * entry (plus the last output's, for layers that return only it) and of the initial states on return.
 * For s = T-1 down to 0, with d = dh (+ dout[b, s] with seq) and the forward pass's i, f, c̃, o, c, c':
 *   dc̄ = dc + d ⊙ o ⊙ (1 - tanh²(c'))
 *   dz_i = dc̄ ⊙ c̃ ⊙ i(1 - i),  dz_f = dc̄ ⊙ c ⊙ f(1 - f)
 *   dz_c = dc̄ ⊙ i ⊙ (1 - c̃²),    dz_o = d ⊙ tanh(c') ⊙ o(1 - o)
 *   dc ← dc̄ ⊙ f,  dh ← (dz uᵀ) ⊙ rdrop (without recurrent dropout: dz uᵀ)
 * A row whose mask is 0 at t has dz = 0 and keeps dh and dc. Then, summed over steps and rows:
 *   du = Σ ĥᵀ dz,  dw = Σ xₜᵀ dz,  db = Σ dz,  dx = dz wᵀ (by input step).
 *
 * Arguments:
 *   B      i32                              rows (sequences) in this chunk
 *   T      i32                              steps
 *   F      i32                              input features
 *   H      i32                              units
 *   x      [B, T, F]    input               the layer's inputs
 *   w      [F, G]       weights             input kernel, gates side by side
 *   u      [H, G]       weights             recurrent kernel, gates side by side
 *   mask   [B, T]       input if masked     1 = run the step, 0 = carry the state
 *   rev    bool                             step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout    recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout     hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   gates  [S, B, G]    tape                from lstmForward
 *   hs     [S+1, B, H]  state               from lstmForward
 *   cs     [S+1, B, H]  state               from lstmForward
 *   tc     [S, B, H]    tape                from lstmForward
 *   dout   [B, S, H]    input if sequences  gradient of out (added to dh step by step)
 *   seq    bool                             give every step's output (out), not only the last
 *   dh     [B, H]       inout               in: d final h (plus d last output); out: d initial h
 *   dc     [B, H]       inout               in: d final c; out: d initial c
 *   dx     [B, T, F]    output              gradient of x
 *   dw     [F, G]       output              gradient of w (this chunk's rows)
 *   du     [H, G]       output              gradient of u (this chunk's rows)
 *   db     [G]          output              gradient of bias (this chunk's rows)
 *   dhn    [S, B]       output if flow      ‖dh‖² of each row after step s, its output's gradient added (0 where masked)
 *   sat    [3]          output if flow      int32 counts: gate < 0.01, gate > 0.99, |candidate| > 0.99 (live steps)
 *   dz     [S, B, G]    scratch             gradients of the gates' pre-activations
 *   ut     [G, H]       scratch             uᵀ
 *   wt     [G, F]       scratch             wᵀ
 *   dxw    [B, T, G]    scratch             dz by input step, batch-major
 *   tmp    [B, H]       scratch             dz uᵀ: the gradient of the previous h as the step read it
 */
export function lstmBackward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  gates: usize, hs: usize, cs: usize, tc: usize, dout: usize, seq: bool,
  dh: usize, dc: usize, dx: usize, dw: usize, du: usize, db: usize, dhn: usize, sat: usize,
  dz: usize, ut: usize, wt: usize, dxw: usize, tmp: usize,
): void {
  const G = 4 * H;
  transpose(H, G, u, G, ut);
  if (sat != 0) memory.fill(sat, 0, 12);
  for (let s = T - 1; s >= 0; s--) {
    const t = stepOf(s, T, rev);
    const dzs = backStep(B, T, H, G, s, t, seq, dout, dh, dz, mask, dhn);
    for (let b = 0; b < B; b++) {
      if (!live(mask, b, t, T)) continue;
      const dzr = at(dzs, b * G);
      const g = at(gates, (s * B + b) * G), tcr = at(tc, (s * B + b) * H), cp = at(cs, (s * B + b) * H);
      const dhr = at(dh, b * H), dcr = at(dc, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const i = v128.load(at(g, j)), f = v128.load(at(g, H + j)), cc = v128.load(at(g, 2 * H + j)), o = v128.load(at(g, 3 * H + j));
        const th = v128.load(at(tcr, j));
        const dhv = v128.load(at(dhr, j));
        const dct = f32x4.add(v128.load(at(dcr, j)), f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(ONE, f32x4.mul(th, th))));
        v128.store(at(dzr, j), f32x4.mul(f32x4.mul(dct, cc), f32x4.mul(i, f32x4.sub(ONE, i))));
        v128.store(at(dzr, H + j), f32x4.mul(f32x4.mul(dct, v128.load(at(cp, j))), f32x4.mul(f, f32x4.sub(ONE, f))));
        v128.store(at(dzr, 2 * H + j), f32x4.mul(f32x4.mul(dct, i), f32x4.sub(ONE, f32x4.mul(cc, cc))));
        v128.store(at(dzr, 3 * H + j), f32x4.mul(f32x4.mul(dhv, th), f32x4.mul(o, f32x4.sub(ONE, o))));
        v128.store(at(dcr, j), f32x4.mul(dct, f));
      }
      for (; j < H; j++) {
        const i = ld(g, j), f = ld(g, H + j), cc = ld(g, 2 * H + j), o = ld(g, 3 * H + j), th = ld(tcr, j), dhv = ld(dhr, j);
        const dct = ld(dcr, j) + dhv * o * (1 - th * th);
        st(dzr, j, dct * cc * (i * (1 - i)));
        st(dzr, H + j, dct * ld(cp, j) * (f * (1 - f)));
        st(dzr, 2 * H + j, dct * i * (1 - cc * cc));
        st(dzr, 3 * H + j, dhv * th * (o * (1 - o)));
        st(dcr, j, dct * f);
      }
      if (sat != 0) countSaturated(at(g, H), at(g, 2 * H), H, sat);
    }
    gemm(B, H, G, dzs, G, 1, ut, H, tmp, H, false);
    carryBack(B, T, H, t, mask, rdrop, tmp, dh);
  }
  gemm(H, G, T * B, readStates(rdrop, hs, hm), 1, H, dz, G, du, G, false);
  inputGradients(B, T, F, G, rev, x, w, dz, dxw, wt, dx, dw, db);
}

// ---- GRU (TF.js/Keras, reset gate before the product: gates z, r, h; tanh and sigmoid) ----

/**
 * GRU forward (TF.js/Keras, reset gate applied before the recurrent product; gates z, r, h̃), for each
 * step s and live row b. TF.js's cell reads the dropped-out state everywhere in the step, the blend too:
 *   [a_z a_r] = ĥ [u_z u_r],  z = σ((xₜ w_z + b_z) + a_z),  r = σ((xₜ w_r + b_r) + a_r)
 *   rh = r ⊙ ĥ,  h̃ = tanh((xₜ w_h + b_h) + rh u_h)
 *   h' = z ⊙ ĥ + (1 - z) ⊙ h̃                            (hs[s+1]; out[b, s] = h' with seq)
 * A row whose mask is 0 at t carries hs[s] unchanged.
 *
 * Arguments:
 *   B      i32                               rows (sequences) in this chunk
 *   T      i32                               steps
 *   F      i32                               input features
 *   H      i32                               units
 *   x      [B, T, F]    input                the layer's inputs
 *   w      [F, G]       weights              input kernel, gates side by side
 *   u      [H, G]       weights              recurrent kernel, gates side by side
 *   bias   [G]          weights              bias
 *   mask   [B, T]       input if masked      1 = run the step, 0 = carry the state
 *   rev    bool                              step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout     recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout      hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   xw     [B, T, G]    scratch              x w: every step's input projection
 *   z      [B, 2H]      scratch              one step's h u, z and r columns
 *   tmp    [B, H]       scratch              one step's (r h) u, candidate columns
 *   gates  [S, B, G]    tape                 z, r, h̃ after their activations
 *   hs     [S+1, B, H]  state                hs[0] the initial h (from the caller), hs[s+1] h after step s
 *   rh     [S, B, H]    tape                 r * h of step s (h as the step read it)
 *   out    [B, S, H]    output if sequences  every step's h, in processing order (as TF.js returns it)
 *   seq    bool                              give every step's output (out), not only the last
 */
export function gruForward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, bias: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  xw: usize, z: usize, tmp: usize,
  gates: usize, hs: usize, rh: usize, out: usize, seq: bool,
): void {
  const G = 3 * H;
  gemm(B * T, G, F, x, F, 1, w, G, xw, G, false);
  for (let s = 0; s < T; s++) {
    const t = stepOf(s, T, rev);
    // TF.js's GRU reads the masked state everywhere in the step (also in z h + (1 - z) hh).
    const hState = at(hs, s * B * H), hPrev = stepInput(B, H, s, hs, rdrop, hm), hNext = at(hs, (s + 1) * B * H), rhs = at(rh, s * B * H);
    gemm(B, 2 * H, H, hPrev, H, 1, u, G, z, 2 * H, false);
    // r * h first, for every row (masked rows too: their product is simply unused).
    for (let b = 0; b < B; b++) {
      const zr = at(z, b * 2 * H), xr = at(xw, (b * T + t) * G), g = at(gates, (s * B + b) * G), hp = at(hPrev, b * H), rr = at(rhs, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const zz = sigmoidv(f32x4.add(f32x4.add(v128.load(at(xr, j)), v128.load(at(bias, j))), v128.load(at(zr, j))));
        const r = sigmoidv(f32x4.add(f32x4.add(v128.load(at(xr, H + j)), v128.load(at(bias, H + j))), v128.load(at(zr, H + j))));
        v128.store(at(g, j), zz);
        v128.store(at(g, H + j), r);
        v128.store(at(rr, j), f32x4.mul(r, v128.load(at(hp, j))));
      }
      for (; j < H; j++) {
        const zz = sigmoid1(ld(xr, j) + ld(bias, j) + ld(zr, j));
        const r = sigmoid1(ld(xr, H + j) + ld(bias, H + j) + ld(zr, H + j));
        st(g, j, zz);
        st(g, H + j, r);
        st(rr, j, r * ld(hp, j));
      }
    }
    gemm(B, H, H, rhs, H, 1, at(u, 2 * H), G, tmp, H, false);
    for (let b = 0; b < B; b++) {
      const hp = at(hPrev, b * H), hn = at(hNext, b * H);
      if (!live(mask, b, t, T)) {
        memory.copy(hn, at(hState, b * H), <usize>H << 2);
        continue;
      }
      const xr = at(xw, (b * T + t) * G), g = at(gates, (s * B + b) * G), tr = at(tmp, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const hh = tanhv(f32x4.add(f32x4.add(v128.load(at(xr, 2 * H + j)), v128.load(at(bias, 2 * H + j))), v128.load(at(tr, j))));
        const zz = v128.load(at(g, j));
        v128.store(at(g, 2 * H + j), hh);
        v128.store(at(hn, j), f32x4.add(f32x4.mul(zz, v128.load(at(hp, j))), f32x4.mul(f32x4.sub(ONE, zz), hh)));
      }
      for (; j < H; j++) {
        const hh = tanh1(ld(xr, 2 * H + j) + ld(bias, 2 * H + j) + ld(tr, j));
        const zz = ld(g, j);
        st(g, 2 * H + j, hh);
        st(hn, j, zz * ld(hp, j) + (1 - zz) * hh);
      }
    }
    if (seq) writeOutput(B, T, H, s, hNext, out);
  }
}

/**
 * Backpropagation through time for gruForward (dh as for lstmBackward). For s = T-1 down to 0, with
 * d = dh (+ dout[b, s] with seq):
 *   dz_h = d ⊙ (1 - z) ⊙ (1 - h̃²),  drh = dz_h u_hᵀ
 *   dz_z = d ⊙ (ĥ - h̃) ⊙ z(1 - z),   dz_r = drh ⊙ ĥ ⊙ r(1 - r)
 *   dh ← (d ⊙ z + drh ⊙ r + [dz_z dz_r] [u_z u_r]ᵀ) ⊙ rdrop (without recurrent dropout: no ⊙ rdrop)
 * Masked rows as for lstmBackward. Then du_zr = Σ ĥᵀ [dz_z dz_r], du_h = Σ rhᵀ dz_h, and dw, db, dx
 * as for lstmBackward.
 *
 * Arguments:
 *   B      i32                              rows (sequences) in this chunk
 *   T      i32                              steps
 *   F      i32                              input features
 *   H      i32                              units
 *   x      [B, T, F]    input               the layer's inputs
 *   w      [F, G]       weights             input kernel, gates side by side
 *   u      [H, G]       weights             recurrent kernel, gates side by side
 *   mask   [B, T]       input if masked     1 = run the step, 0 = carry the state
 *   rev    bool                             step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout    recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout     hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   gates  [S, B, G]    tape                from gruForward
 *   hs     [S+1, B, H]  state               from gruForward
 *   rh     [S, B, H]    tape                from gruForward
 *   dout   [B, S, H]    input if sequences  gradient of out (added to dh step by step)
 *   seq    bool                             give every step's output (out), not only the last
 *   dh     [B, H]       inout               in: d final h (plus d last output); out: d initial h
 *   dx     [B, T, F]    output              gradient of x
 *   dw     [F, G]       output              gradient of w (this chunk's rows)
 *   du     [H, G]       output              gradient of u (this chunk's rows)
 *   db     [G]          output              gradient of bias (this chunk's rows)
 *   dhn    [S, B]       output if flow      ‖dh‖² of each row after step s, its output's gradient added (0 where masked)
 *   sat    [3]          output if flow      int32 counts: gate < 0.01, gate > 0.99, |candidate| > 0.99 (live steps)
 *   dz     [S, B, G]    scratch             gradients of the gates' pre-activations
 *   uzrt   [2H, H]      scratch             the z and r columns of u, transposed
 *   uht    [H, H]       scratch             the candidate columns of u, transposed
 *   wt     [G, F]       scratch             wᵀ
 *   dxw    [B, T, G]    scratch             dz by input step, batch-major
 *   tmp    [B, H]       scratch             dh̃ (u_h)ᵀ: the gradient of r * h
 *   acc    [B, H]       scratch             the gradient of the previous h, summed
 */
export function gruBackward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  gates: usize, hs: usize, rh: usize, dout: usize, seq: bool,
  dh: usize, dx: usize, dw: usize, du: usize, db: usize, dhn: usize, sat: usize,
  dz: usize, uzrt: usize, uht: usize, wt: usize, dxw: usize, tmp: usize, acc: usize,
): void {
  const G = 3 * H;
  const prev = readStates(rdrop, hs, hm);
  transpose(H, 2 * H, u, G, uzrt);
  transpose(H, H, at(u, 2 * H), G, uht);
  if (sat != 0) memory.fill(sat, 0, 12);
  for (let s = T - 1; s >= 0; s--) {
    const t = stepOf(s, T, rev);
    const dzs = backStep(B, T, H, G, s, t, seq, dout, dh, dz, mask, dhn);
    // Through h' = z h + (1 - z) hh: the candidate's pre-activation gradient first.
    for (let b = 0; b < B; b++) {
      if (!live(mask, b, t, T)) continue;
      const dzr = at(dzs, b * G);
      const g = at(gates, (s * B + b) * G), dhr = at(dh, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const zz = v128.load(at(g, j)), hh = v128.load(at(g, 2 * H + j));
        v128.store(at(dzr, 2 * H + j), f32x4.mul(f32x4.mul(v128.load(at(dhr, j)), f32x4.sub(ONE, zz)), f32x4.sub(ONE, f32x4.mul(hh, hh))));
      }
      for (; j < H; j++) {
        const zz = ld(g, j), hh = ld(g, 2 * H + j);
        st(dzr, 2 * H + j, ld(dhr, j) * (1 - zz) * (1 - hh * hh));
      }
      if (sat != 0) countSaturated(g, at(g, 2 * H), H, sat);
    }
    gemm(B, H, H, at(dzs, 2 * H), G, 1, uht, H, tmp, H, false);
    for (let b = 0; b < B; b++) {
      if (!live(mask, b, t, T)) continue;
      const dzr = at(dzs, b * G), g = at(gates, (s * B + b) * G), dhr = at(dh, b * H), hp = at(prev, (s * B + b) * H), dr = at(tmp, b * H), ar = at(acc, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const zz = v128.load(at(g, j)), r = v128.load(at(g, H + j)), hh = v128.load(at(g, 2 * H + j));
        const d = v128.load(at(dhr, j)), h = v128.load(at(hp, j)), drh = v128.load(at(dr, j));
        v128.store(at(dzr, j), f32x4.mul(f32x4.mul(d, f32x4.sub(h, hh)), f32x4.mul(zz, f32x4.sub(ONE, zz))));
        v128.store(at(dzr, H + j), f32x4.mul(f32x4.mul(drh, h), f32x4.mul(r, f32x4.sub(ONE, r))));
        v128.store(at(ar, j), f32x4.add(f32x4.mul(d, zz), f32x4.mul(drh, r)));
      }
      for (; j < H; j++) {
        const zz = ld(g, j), r = ld(g, H + j), hh = ld(g, 2 * H + j), d = ld(dhr, j), h = ld(hp, j), drh = ld(dr, j);
        st(dzr, j, d * (h - hh) * (zz * (1 - zz)));
        st(dzr, H + j, drh * h * (r * (1 - r)));
        st(ar, j, d * zz + drh * r);
      }
    }
    gemm(B, H, 2 * H, dzs, G, 1, uzrt, H, acc, H, true);
    carryBack(B, T, H, t, mask, rdrop, acc, dh);
  }
  gemm(H, 2 * H, T * B, prev, 1, H, dz, G, du, G, false);
  gemm(H, H, T * B, rh, 1, H, at(dz, 2 * H), G, at(du, 2 * H), G, false);
  inputGradients(B, T, F, G, rev, x, w, dz, dxw, wt, dx, dw, db);
}

// ---- SimpleRNN (tanh) ----

/**
 * SimpleRNN forward (tanh), for each step s and live row b:
 *   h' = tanh((xₜ w + bias) + ĥ u)                      (hs[s+1]; out[b, s] = h' with seq)
 * A row whose mask is 0 at t carries hs[s] unchanged.
 *
 * Arguments:
 *   B      i32                               rows (sequences) in this chunk
 *   T      i32                               steps
 *   F      i32                               input features
 *   H      i32                               units
 *   x      [B, T, F]    input                the layer's inputs
 *   w      [F, G]       weights              input kernel, gates side by side
 *   u      [H, G]       weights              recurrent kernel, gates side by side
 *   bias   [G]          weights              bias
 *   mask   [B, T]       input if masked      1 = run the step, 0 = carry the state
 *   rev    bool                              step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout     recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout      hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   xw     [B, T, G]    scratch              x w: every step's input projection
 *   z      [B, G]       scratch              one step's h u
 *   hs     [S+1, B, H]  state                hs[0] the initial h (from the caller), hs[s+1] h after step s
 *   out    [B, S, H]    output if sequences  every step's h, in processing order (as TF.js returns it)
 *   seq    bool                              give every step's output (out), not only the last
 */
export function simpleForward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, bias: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  xw: usize, z: usize,
  hs: usize, out: usize, seq: bool,
): void {
  gemm(B * T, H, F, x, F, 1, w, H, xw, H, false);
  for (let s = 0; s < T; s++) {
    const t = stepOf(s, T, rev);
    const hPrev = at(hs, s * B * H), hNext = at(hs, (s + 1) * B * H);
    gemm(B, H, H, stepInput(B, H, s, hs, rdrop, hm), H, 1, u, H, z, H, false);
    for (let b = 0; b < B; b++) {
      const hp = at(hPrev, b * H), hn = at(hNext, b * H);
      if (!live(mask, b, t, T)) {
        memory.copy(hn, hp, <usize>H << 2);
        continue;
      }
      const xr = at(xw, (b * T + t) * H), zr = at(z, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) v128.store(at(hn, j), tanhv(f32x4.add(f32x4.add(v128.load(at(xr, j)), v128.load(at(bias, j))), v128.load(at(zr, j)))));
      for (; j < H; j++) st(hn, j, tanh1(ld(xr, j) + ld(bias, j) + ld(zr, j)));
    }
    if (seq) writeOutput(B, T, H, s, hNext, out);
  }
}

/**
 * Backpropagation through time for simpleForward (dh as for lstmBackward). For s = T-1 down to 0,
 * with d = dh (+ dout[b, s] with seq) and h' = hs[s+1]:
 *   dz = d ⊙ (1 - h'²),  dh ← (dz uᵀ) ⊙ rdrop (without recurrent dropout: dz uᵀ)
 * Masked rows as for lstmBackward; du = Σ ĥᵀ dz, and dw, db, dx as for lstmBackward.
 *
 * Arguments:
 *   B      i32                              rows (sequences) in this chunk
 *   T      i32                              steps
 *   F      i32                              input features
 *   H      i32                              units
 *   x      [B, T, F]    input               the layer's inputs
 *   w      [F, G]       weights             input kernel, gates side by side
 *   u      [H, G]       weights             recurrent kernel, gates side by side
 *   mask   [B, T]       input if masked     1 = run the step, 0 = carry the state
 *   rev    bool                             step s reads input step t = rev ? T-1-s : s
 *   rdrop  [B, H]       input if dropout    recurrent dropout's mask (0 or 1/(1-rate)), one per sequence
 *   hm     [S, B, H]    tape if dropout     hm[s] = hs[s] * rdrop: the previous state as step s read it
 *   hs     [S+1, B, H]  state               from simpleForward
 *   dout   [B, S, H]    input if sequences  gradient of out (added to dh step by step)
 *   seq    bool                             give every step's output (out), not only the last
 *   dh     [B, H]       inout               in: d final h (plus d last output); out: d initial h
 *   dx     [B, T, F]    output              gradient of x
 *   dw     [F, G]       output              gradient of w (this chunk's rows)
 *   du     [H, G]       output              gradient of u (this chunk's rows)
 *   db     [G]          output              gradient of bias (this chunk's rows)
 *   dhn    [S, B]       output if flow      ‖dh‖² of each row after step s, its output's gradient added (0 where masked)
 *   sat    [3]          output if flow      int32 counts: gate < 0.01, gate > 0.99, |candidate| > 0.99 (live steps)
 *   dz     [S, B, G]    scratch             gradients of the gates' pre-activations
 *   ut     [G, H]       scratch             uᵀ
 *   wt     [G, F]       scratch             wᵀ
 *   dxw    [B, T, G]    scratch             dz by input step, batch-major
 *   tmp    [B, H]       scratch             dz uᵀ: the gradient of the previous h as the step read it
 */
export function simpleBackward(
  B: i32, T: i32, F: i32, H: i32,
  x: usize, w: usize, u: usize, mask: usize, rev: bool, rdrop: usize, hm: usize,
  hs: usize, dout: usize, seq: bool,
  dh: usize, dx: usize, dw: usize, du: usize, db: usize, dhn: usize, sat: usize,
  dz: usize, ut: usize, wt: usize, dxw: usize, tmp: usize,
): void {
  transpose(H, H, u, H, ut);
  if (sat != 0) memory.fill(sat, 0, 12);
  for (let s = T - 1; s >= 0; s--) {
    const t = stepOf(s, T, rev);
    const dzs = backStep(B, T, H, H, s, t, seq, dout, dh, dz, mask, dhn);
    for (let b = 0; b < B; b++) {
      if (!live(mask, b, t, T)) continue;
      const dzr = at(dzs, b * H);
      const hn = at(hs, ((s + 1) * B + b) * H), dhr = at(dh, b * H);
      let j = 0;
      for (; j + 4 <= H; j += 4) {
        const h = v128.load(at(hn, j));
        v128.store(at(dzr, j), f32x4.mul(v128.load(at(dhr, j)), f32x4.sub(ONE, f32x4.mul(h, h))));
      }
      for (; j < H; j++) {
        const h = ld(hn, j);
        st(dzr, j, ld(dhr, j) * (1 - h * h));
      }
      if (sat != 0) countSaturated(0, hn, H, sat);
    }
    gemm(B, H, H, dzs, H, 1, ut, H, tmp, H, false);
    carryBack(B, T, H, t, mask, rdrop, tmp, dh);
  }
  gemm(H, H, T * B, readStates(rdrop, hs, hm), 1, H, dz, H, du, H, false);
  inputGradients(B, T, F, H, rev, x, w, dz, dxw, wt, dx, dw, db);
}
