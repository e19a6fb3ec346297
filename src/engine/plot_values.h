// PlotValues: a plotted series whose values are computed when they are read, over any range of
// the run's timeline, rather than held (a built-in's derived series: strategies::DerivePlotValues).
//
// Thread-safety: Fill is const and may be called from any number of threads.
#pragma once

#include <cstddef>

namespace tapedeck::engine {

class PlotValues {
 public:
  virtual ~PlotValues() = default;
  // The length of the timeline the series covers.
  virtual size_t size() const = 0;
  // out[k] = the value at timeline index begin + k, for k < end - begin: the same bits as the
  // whole series materialised holds there. REQUIRES: begin <= end <= size().
  virtual void Fill(size_t begin, size_t end, double* out) const = 0;
  // A range that begins at a multiple of this costs its own bars only; any other, up to this
  // many - 1 more (the bars from the multiple before it). >= 1.
  virtual size_t resume_every() const = 0;
};

}  // namespace tapedeck::engine
