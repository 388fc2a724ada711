// The kernels built for one instruction set (this file's compiler flags: binding.gyp).
#include "rnn.h"

namespace rnnp {
extern const KernelTable kAvx2 = Kernels<Avx2>::table("avx2");
}  // namespace rnnp
