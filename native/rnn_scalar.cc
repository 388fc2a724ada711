// The kernels built for one instruction set (this file's compiler flags: binding.gyp).
#include "rnn.h"

namespace rnnp {
extern const KernelTable kScalar = Kernels<Scalar>::table("scalar");
}  // namespace rnnp
