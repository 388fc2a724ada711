// The kernels built for one instruction set (this file's compiler flags: binding.gyp).
#include "rnn.h"

namespace rnnp {
extern const KernelTable kAvx512 = Kernels<Avx512>::table("avx512");
}  // namespace rnnp
