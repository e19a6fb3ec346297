// The out-of-line part of indicators.h.
#include "strategies/indicators.h"

namespace tapedeck::strategies::detail {

// Two versions, chosen once when the program loads (GCC's target_clones): with AVX2 one
// instruction divides four values, else two (SSE2, every x86-64). A division rounds the same
// (IEEE, correctly rounded) whatever the width, so both give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void DivideInPlace(double* values, size_t count, double divisor) {
  // Four lanes: one AVX2 instruction, or two SSE2 ones in the default version.
  using V4 = double __attribute__((vector_size(32)));
  const V4 d = {divisor, divisor, divisor, divisor};
  size_t k = 0;
  for (; k + 4 <= count; k += 4) {
    V4 v;
    __builtin_memcpy(&v, values + k, sizeof v);
    v = v / d;
    __builtin_memcpy(values + k, &v, sizeof v);
  }
  for (; k < count; ++k) values[k] = values[k] / divisor;
}

}  // namespace tapedeck::strategies::detail
