// The out-of-line part of indicators.h.
#include "strategies/indicators.h"

namespace tapedeck::strategies::detail {
namespace {

// Four lanes at a time: one AVX2 instruction when inlined into a function compiled for it, else
// two SSE2 ones (every x86-64). A division rounds the same (IEEE, correctly rounded) whatever the
// width, so every version gives the same bits.
[[gnu::always_inline]] inline void DivideBody(double* values, size_t count, double divisor) {
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

#if defined(__x86_64__) && defined(__GNUC__)
[[gnu::target("avx2")]] void DivideAvx2(double* values, size_t count, double divisor) {
  DivideBody(values, count, divisor);
}
#endif

}  // namespace

// The version is chosen on the first call by asking the CPU, not by an ifunc resolver (GCC's
// target_clones): a resolver runs while the program is still being relocated, before
// ThreadSanitizer's runtime is up, and crashed every binary built with it.
void DivideInPlace(double* values, size_t count, double divisor) {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    DivideAvx2(values, count, divisor);
    return;
  }
#endif
  DivideBody(values, count, divisor);
}

}  // namespace tapedeck::strategies::detail
