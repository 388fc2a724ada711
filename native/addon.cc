// rnnp's native kernels as a Node-API add-on: the six kernels of abi.h, built for each instruction
// set this compiler can target (rnn_*.cc), run on a pool of threads over the WebAssembly kernels'
// own shared memory (so tapes, scratch and offsets are the same on both paths).
//
// JavaScript (src/stages/numerics/fused/native.ts) sees:
//   isas: string[]        the builds this CPU can run, best first ("avx512", "avx2", "scalar")
//   kernels: [name, arity][]  the kernels in the pools' numbering, with their argument counts
//   portOf: string        the wasm kernels' digest this port reproduces (abi.h)
//   new Pool(threads, isa)
//   pool.run(memory: Uint8Array, table: Int32Array, count)  runs `count` calls of the table (the
//       wasm pool's format: per call 32 words, the kernel's number, the argument count, the
//       arguments; buffers as byte offsets into memory), on the calling thread and threads - 1 others
//   pool.close()
//   adam(g, m, v, w, mOut, vOut, wOut, k)  one weight's Adam step (src/numerics/adam.ts)
//   sumSquares(x)  x's sum of squares as TF.js's wasm backend gives it (src/numerics/squared-norms.ts)
#include <napi.h>

#include <cmath>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "abi.h"

namespace rnnp {
namespace {

constexpr int kSlot = 32;  // words per call in the table (as pool.ts)

// ---- floating-point environment ----

// WebAssembly's: round to nearest even, denormals kept (no flush-to-zero, no denormals-are-zero),
// exceptions masked. Set on every thread that runs kernels, whatever the process had.
#if defined(__x86_64__) || defined(__i386__)
constexpr unsigned kMxcsr = 0x1f80;
struct FpEnv {
  unsigned saved = _mm_getcsr();
  FpEnv() { _mm_setcsr(kMxcsr); }
  ~FpEnv() { _mm_setcsr(saved); }
};
#else
struct FpEnv {};
#endif

// ---- the builds this machine can run ----

std::vector<const KernelTable*> available() {
  std::vector<const KernelTable*> out;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) out.push_back(&kAvx512);
  if (__builtin_cpu_supports("avx2")) out.push_back(&kAvx2);
#endif
  out.push_back(&kScalar);
  return out;
}

// ---- one call from the table ----

struct Memory {
  uint8_t* base;
  size_t size;
};

#define RNNP_READ_I32(n) a.n = (int32_t)w[i++];
#define RNNP_READ_BOOL(n) a.n = w[i++] != 0;
#define RNNP_READ_PTR(n)                                                                           \
  a.n = w[i] == 0 ? nullptr : reinterpret_cast<float*>(m.base + (uint32_t)w[i]);                   \
  i++;
#define RNNP_INVOKE(name, LIST, Struct)                                                             \
  void invoke_##name(const KernelTable& k, Memory m, const int32_t* w) {                          \
    Struct a;                                                                                      \
    int i = 0;                                                                                     \
    LIST(RNNP_READ_I32, RNNP_READ_PTR, RNNP_READ_BOOL)                                             \
    k.name(a);                                                                                     \
  }
RNNP_KERNELS(RNNP_INVOKE)
#undef RNNP_INVOKE

using Invoke = void (*)(const KernelTable&, Memory, const int32_t*);
#define RNNP_INVOKER(name, LIST, Struct) invoke_##name,
const Invoke kInvoke[] = {RNNP_KERNELS(RNNP_INVOKER)};
#undef RNNP_INVOKER
#define RNNP_ARITY_OF(name, LIST, Struct) name##Arity,
const int kArity[] = {RNNP_KERNELS(RNNP_ARITY_OF)};
#undef RNNP_ARITY_OF
#define RNNP_NAME_OF(name, LIST, Struct) #name,
const char* const kNames[] = {RNNP_KERNELS(RNNP_NAME_OF)};
#undef RNNP_NAME_OF
constexpr int kKernels = sizeof(kInvoke) / sizeof(kInvoke[0]);

// The kind of argument at each position of each kernel, to check offsets against the memory.
#define RNNP_KIND_I32(n) 0,
#define RNNP_KIND_PTR(n) 1,
#define RNNP_KIND_BOOL(n) 2,
#define RNNP_KINDS(name, LIST, Struct)                                                              \
  const int kKinds_##name[] = {LIST(RNNP_KIND_I32, RNNP_KIND_PTR, RNNP_KIND_BOOL)};
RNNP_KERNELS(RNNP_KINDS)
#undef RNNP_KINDS
#define RNNP_KINDS_OF(name, LIST, Struct) kKinds_##name,
const int* const kKinds[] = {RNNP_KERNELS(RNNP_KINDS_OF)};
#undef RNNP_KINDS_OF

// ---- the thread pool ----

struct Job {
  const KernelTable* table;
  Memory memory;
  const int32_t* calls;
};

class Threads {
 public:
  explicit Threads(int threads) {
    for (int i = 1; i < threads; i++) workers_.emplace_back([this] { work(); });
  }
  ~Threads() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Runs calls 0..count-1 of the job, on this thread and the workers; returns when all are done.
  // A call is taken, with the job it belongs to, under the lock, and only while the round is open:
  // no worker can start a call of a finished round.
  void run(const Job& job, int count) {
    {
      std::lock_guard<std::mutex> lock(m_);
      job_ = job;
      next_ = 0;
      done_ = 0;
      count_ = count;
    }
    if (!workers_.empty()) wake_.notify_all();
    FpEnv env;
    for (;;) {
      int j;
      {
        std::lock_guard<std::mutex> lock(m_);
        if (next_ >= count_) break;
        j = next_++;
      }
      execute(job, j);
      std::lock_guard<std::mutex> lock(m_);
      done_++;
    }
    std::unique_lock<std::mutex> lock(m_);
    finished_.wait(lock, [this] { return done_ == count_; });
    count_ = 0;
  }

 private:
  static void execute(const Job& job, int j) {
    const int32_t* call = job.calls + (size_t)j * kSlot;
    kInvoke[call[0]](*job.table, job.memory, call + 2);
  }

  void work() {
    FpEnv env;
    for (;;) {
      Job job;
      int j;
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [this] { return stop_ || next_ < count_; });
        if (stop_) return;
        j = next_++;
        job = job_;
      }
      execute(job, j);
      std::lock_guard<std::mutex> lock(m_);
      if (++done_ == count_) finished_.notify_one();
    }
  }

  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  Job job_{};
  int next_ = 0;
  int done_ = 0;
  int count_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

// ---- JavaScript ----

class Pool : public Napi::ObjectWrap<Pool> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pool",
                       {InstanceMethod<&Pool::Run>("run"), InstanceMethod<&Pool::Sum>("sum"),
                        InstanceMethod<&Pool::Close>("close"),
                        InstanceAccessor<&Pool::Threads>("threads"),
                        InstanceAccessor<&Pool::Isa>("isa")});
  }

  explicit Pool(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pool>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsString())
      throw Napi::TypeError::New(env, "new Pool(threads, isa)");
    threads_ = info[0].As<Napi::Number>().Int32Value();
    if (threads_ < 1 || threads_ > 256) throw Napi::RangeError::New(env, "threads: 1 to 256");
    const std::string isa = info[1].As<Napi::String>();
    for (const KernelTable* t : available())
      if (isa == t->isa) table_ = t;
    if (table_ == nullptr)
      throw Napi::Error::New(env, "this machine cannot run the kernels built for " + isa);
    pool_ = new rnnp::Threads(threads_);
  }
  ~Pool() override { delete pool_; }

 private:
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (pool_ == nullptr) throw Napi::Error::New(env, "the pool is closed");
    if (info.Length() != 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() ||
        !info[2].IsNumber())
      throw Napi::TypeError::New(env, "run(memory: Uint8Array, table: Int32Array, count)");
    auto memory = info[0].As<Napi::Uint8Array>();
    auto table = info[1].As<Napi::Int32Array>();
    const int count = info[2].As<Napi::Number>().Int32Value();
    if (count < 0 || (size_t)count * kSlot > table.ElementLength())
      throw Napi::RangeError::New(env, "the table holds fewer calls than count");
    const Memory m{memory.Data(), memory.ByteLength()};
    const int32_t* calls = table.Data();
    for (int j = 0; j < count; j++) check(env, calls + (size_t)j * kSlot, m);
    pool_->run(Job{table_, m, calls}, count);
    return env.Undefined();
  }

  // sum(memory, offsets: Int32Array, n): the first buffer += each other one, in order (a chunk's
  // weight gradients summed over chunks: element by element, ((g0 + g1) + g2) + ..., as in JS).
  Napi::Value Sum(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() ||
        !info[2].IsNumber())
      throw Napi::TypeError::New(env, "sum(memory: Uint8Array, offsets: Int32Array, n)");
    auto memory = info[0].As<Napi::Uint8Array>();
    auto offsets = info[1].As<Napi::Int32Array>();
    const int64_t n = info[2].As<Napi::Number>().Int64Value();
    const size_t count = offsets.ElementLength();
    for (size_t i = 0; i < count; i++)
      if (n < 0 || (uint64_t)(uint32_t)offsets[i] + (uint64_t)n * 4 > memory.ByteLength())
        throw Napi::RangeError::New(env, "sum: a buffer outside the memory");
    if (count == 0) return env.Undefined();
    FpEnv fp;
    float* out = reinterpret_cast<float*>(memory.Data() + (uint32_t)offsets[0]);
    for (size_t i = 1; i < count; i++) {
      const float* part = reinterpret_cast<const float*>(memory.Data() + (uint32_t)offsets[i]);
      for (int64_t j = 0; j < n; j++) out[j] = out[j] + part[j];
    }
    return env.Undefined();
  }

  // The kernel exists, has its number of arguments, and every buffer starts inside the memory (the
  // caller checks the extents; this guards against a table that is not one).
  static void check(Napi::Env env, const int32_t* call, const Memory& m) {
    const int fn = call[0];
    if (fn < 0 || fn >= kKernels) throw Napi::RangeError::New(env, "no such kernel");
    if (call[1] != kArity[fn])
      throw Napi::RangeError::New(env, std::string(kNames[fn]) + ": wrong number of arguments");
    for (int i = 0; i < kArity[fn]; i++)
      if (kKinds[fn][i] == 1 && (uint32_t)call[2 + i] >= m.size)
        throw Napi::RangeError::New(env, std::string(kNames[fn]) + ": a buffer outside the memory");
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    delete pool_;
    pool_ = nullptr;
    return info.Env().Undefined();
  }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), threads_);
  }
  Napi::Value Isa(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), table_->isa);
  }

  int threads_ = 1;
  const KernelTable* table_ = nullptr;
  rnnp::Threads* pool_ = nullptr;
};

// ---- Adam ----

// TF.js's AdamOptimizer step for one weight (src/numerics/adam.ts): its ops in its order, each a
// float32 operation (divisions and square roots included: SSE's are IEEE's, as TF.js's wasm ops are).
// k: beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1^t, 1 - beta2^t, epsilon, -lr (float32 each).
// Each output may be its input (element j is read before it is written).
Napi::Value Adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* usage = "adam(g, m, v, w, mOut, vOut, wOut, k: Float32Array)";
  if (info.Length() != 8) throw Napi::TypeError::New(env, usage);
  for (size_t i = 0; i < 8; i++)
    if (!info[i].IsTypedArray() ||
        info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, usage);
  float* a[7];
  const size_t n = info[0].As<Napi::Float32Array>().ElementLength();
  for (size_t i = 0; i < 7; i++) {
    auto t = info[i].As<Napi::Float32Array>();
    if (t.ElementLength() != n) throw Napi::RangeError::New(env, "adam: arrays of one length");
    a[i] = t.Data();
  }
  auto kv = info[7].As<Napi::Float32Array>();
  if (kv.ElementLength() != 8) throw Napi::RangeError::New(env, "adam: 8 constants");
  const float* k = kv.Data();
  const float *g = a[0], *m = a[1], *v = a[2], *w = a[3];
  float *mOut = a[4], *vOut = a[5], *wOut = a[6];
  FpEnv fp;
  size_t j = 0;
#if defined(__x86_64__)
  // Four at a time (std::sqrt of a float would stay scalar under errno's rules): the same operations.
  const __m128 b1 = _mm_set1_ps(k[0]), c1 = _mm_set1_ps(k[1]), b2 = _mm_set1_ps(k[2]),
               c2 = _mm_set1_ps(k[3]), d1 = _mm_set1_ps(k[4]), d2 = _mm_set1_ps(k[5]),
               eps = _mm_set1_ps(k[6]), rate = _mm_set1_ps(k[7]);
  for (; j + 4 <= n; j += 4) {
    const __m128 gj = _mm_loadu_ps(g + j);
    const __m128 wj = _mm_loadu_ps(w + j);
    const __m128 mj = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + j), b1), _mm_mul_ps(gj, c1));
    const __m128 vj =
        _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + j), b2), _mm_mul_ps(_mm_mul_ps(gj, gj), c2));
    const __m128 den = _mm_add_ps(_mm_sqrt_ps(_mm_div_ps(vj, d2)), eps);
    const __m128 step = _mm_mul_ps(_mm_div_ps(_mm_div_ps(mj, d1), den), rate);
    _mm_storeu_ps(mOut + j, mj);
    _mm_storeu_ps(vOut + j, vj);
    _mm_storeu_ps(wOut + j, _mm_add_ps(step, wj));
  }
#endif
  for (; j < n; j++) {
    const float gj = g[j], wj = w[j];
    const float mj = m[j] * k[0] + gj * k[1];
    const float vj = v[j] * k[2] + (gj * gj) * k[3];
    mOut[j] = mj;
    vOut[j] = vj;
    wOut[j] = ((mj / k[4]) / (std::sqrt(vj / k[5]) + k[6])) * k[7] + wj;
  }
  return env.Undefined();
}

// ---- Sum of squares ----

// tf.sum(tf.square(x)) over all of x as TF.js 4.22's wasm backend computes it: Square is XNNPACK's
// elementwise x * x (one float32 product each), Sum (tfjs-backend-wasm/src/cc/kernels/Sum.cc) one
// float32 accumulator from 0 adding the elements in order (built without fast-math, so never
// reassociated). The same here, one add after another: never vectorized across elements.
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, "sumSquares(x: Float32Array)");
  auto x = info[0].As<Napi::Float32Array>();
  const float* p = x.Data();
  const size_t n = x.ElementLength();
  FpEnv fp;
  float sum = 0;
  for (size_t j = 0; j < n; j++) {
    const float square = p[j] * p[j];
    sum += square;
  }
  return Napi::Number::New(env, sum);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto isas = Napi::Array::New(env);
  for (const KernelTable* t : available()) isas.Set(isas.Length(), t->isa);
  auto kernels = Napi::Array::New(env);
  for (int i = 0; i < kKernels; i++) {
    auto k = Napi::Array::New(env, 2);
    k.Set(0u, kNames[i]);
    k.Set(1u, kArity[i]);
    kernels.Set(i, k);
  }
  exports.Set("isas", isas);
  exports.Set("kernels", kernels);
  exports.Set("portOf", RNNP_PORT_OF);
  exports.Set("Pool", Pool::Define(env));
  exports.Set("adam", Napi::Function::New<Adam>(env, "adam"));
  exports.Set("sumSquares", Napi::Function::New<SumSquares>(env, "sumSquares"));
  return exports;
}

}  // namespace
}  // namespace rnnp

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return rnnp::Init(env, exports);
}
NODE_API_MODULE(rnnp_kernels, InitModule)
