// The kernels' arguments, in order: the native side of the ABI that
// src/stages/numerics/fused/abi.ts declares (with each buffer's shape and role) and kernels/rnn.ts
// implements. test/numerics/abi.test.ts parses these lists and fails when one drifts from the
// descriptor. One entry per argument: I32 (a dimension), BOOL (a flag), PTR (a float32 buffer, by
// its byte offset in the kernels' memory; 0 = absent). To add a buffer to a kernel: add it to the
// AssemblyScript signature, to its descriptor in abi.ts, and here; the struct field and its decoding
// follow from this list.
#pragma once
#include <cstdint>

// The compiled wasm kernels (sha256 of dist/kernels/rnn.wasm, first 16 hex digits) that this port
// reproduces bit for bit. rnnp uses the native kernels only when the built wasm has this digest;
// the ABI spec fails when kernels/rnn.ts changes what it compiles to and this is not updated (after
// porting the change here).
#define RNNP_PORT_OF "0fc2cd529961a6be"

#define RNNP_LSTM_FORWARD(I32, PTR, BOOL)                                                           \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(bias) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                            \
  PTR(xw) PTR(z)                                                                                   \
  PTR(gates) PTR(hs) PTR(cs) PTR(tc) PTR(out) BOOL(seq)

#define RNNP_LSTM_BACKWARD(I32, PTR, BOOL)                                                          \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                                      \
  PTR(gates) PTR(hs) PTR(cs) PTR(tc) PTR(dout) BOOL(seq)                                           \
  PTR(dh) PTR(dc) PTR(dx) PTR(dw) PTR(du) PTR(db) PTR(dhn) PTR(sat)                                \
  PTR(dz) PTR(ut) PTR(wt) PTR(dxw) PTR(tmp)

#define RNNP_GRU_FORWARD(I32, PTR, BOOL)                                                            \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(bias) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                            \
  PTR(xw) PTR(z) PTR(tmp)                                                                          \
  PTR(gates) PTR(hs) PTR(rh) PTR(out) BOOL(seq)

#define RNNP_GRU_BACKWARD(I32, PTR, BOOL)                                                           \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                                      \
  PTR(gates) PTR(hs) PTR(rh) PTR(dout) BOOL(seq)                                                   \
  PTR(dh) PTR(dx) PTR(dw) PTR(du) PTR(db) PTR(dhn) PTR(sat)                                        \
  PTR(dz) PTR(uzrt) PTR(uht) PTR(wt) PTR(dxw) PTR(tmp) PTR(acc)

#define RNNP_SIMPLE_FORWARD(I32, PTR, BOOL)                                                         \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(bias) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                            \
  PTR(xw) PTR(z)                                                                                   \
  PTR(hs) PTR(out) BOOL(seq)

#define RNNP_SIMPLE_BACKWARD(I32, PTR, BOOL)                                                        \
  I32(B) I32(T) I32(F) I32(H)                                                                      \
  PTR(x) PTR(w) PTR(u) PTR(mask) BOOL(rev) PTR(rdrop) PTR(hm)                                      \
  PTR(hs) PTR(dout) BOOL(seq)                                                                      \
  PTR(dh) PTR(dx) PTR(dw) PTR(du) PTR(db) PTR(dhn) PTR(sat)                                        \
  PTR(dz) PTR(ut) PTR(wt) PTR(dxw) PTR(tmp)

// The kernels in the pools' numbering (KERNEL_NAMES in abi.ts): name, argument list, struct.
#define RNNP_KERNELS(K)                                                                             \
  K(lstmForward, RNNP_LSTM_FORWARD, LstmForwardArgs)                                               \
  K(lstmBackward, RNNP_LSTM_BACKWARD, LstmBackwardArgs)                                            \
  K(gruForward, RNNP_GRU_FORWARD, GruForwardArgs)                                                  \
  K(gruBackward, RNNP_GRU_BACKWARD, GruBackwardArgs)                                               \
  K(simpleForward, RNNP_SIMPLE_FORWARD, SimpleForwardArgs)                                         \
  K(simpleBackward, RNNP_SIMPLE_BACKWARD, SimpleBackwardArgs)

namespace rnnp {

#define RNNP_FIELD_I32(n) int32_t n;
#define RNNP_FIELD_PTR(n) float* n;
#define RNNP_FIELD_BOOL(n) bool n;
#define RNNP_STRUCT(name, LIST, Struct)                                                             \
  struct Struct {                                                                                  \
    LIST(RNNP_FIELD_I32, RNNP_FIELD_PTR, RNNP_FIELD_BOOL)                                          \
  };
RNNP_KERNELS(RNNP_STRUCT)
#undef RNNP_STRUCT

// The number of arguments of each kernel.
#define RNNP_ONE(n) +1
#define RNNP_ARITY(name, LIST, Struct) constexpr int name##Arity = 0 LIST(RNNP_ONE, RNNP_ONE, RNNP_ONE);
RNNP_KERNELS(RNNP_ARITY)
#undef RNNP_ARITY

// One instruction set's build of the six kernels.
struct KernelTable {
  const char* isa;
#define RNNP_ENTRY(name, LIST, Struct) void (*name)(const Struct&);
  RNNP_KERNELS(RNNP_ENTRY)
#undef RNNP_ENTRY
};

// Defined by the instruction sets built here (rnn_avx512.cc, rnn_avx2.cc, rnn_scalar.cc).
extern const KernelTable kAvx512;
extern const KernelTable kAvx2;
extern const KernelTable kScalar;

}  // namespace rnnp
