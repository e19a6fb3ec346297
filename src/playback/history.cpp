#include <algorithm>

#include "playback/playback.h"

namespace tapedeck::playback {

Result<std::string> EncodeHistory(std::shared_ptr<const Tape> tape, double speed,
                                  std::optional<int64_t> from, std::optional<int64_t> to) {
  Result<Timeline> created = Timeline::Create(std::move(tape), speed);
  if (!created.ok()) return created.take_error();
  const Timeline& tl = *created;
  const auto n = static_cast<int64_t>(tl.window_count());
  const auto first = static_cast<size_t>(std::clamp<int64_t>(from.value_or(0), 0, n));
  const auto last = static_cast<size_t>(std::clamp<int64_t>(to.value_or(n), 0, n));
  std::string out = "[";
  if (first < last) {
    const std::string tail = EncodeFrameTail(0);
    // Walk the bars rather than the windows: at low speed most windows are empty.
    const size_t end_bar = tl.FirstBarOf(last);
    for (size_t bar = tl.FirstBarOf(first); bar < end_bar;) {
      const size_t k = tl.WindowOf(bar);
      const BarRange range{bar, tl.FirstBarOf(k + 1)};
      if (out.size() > 1) out += ',';
      out += EncodeFrameHead(tl.BuildFrame(range), tl.tape());
      out += tail;
      bar = range.end;
    }
  }
  out += ']';
  return out;
}

}  // namespace tapedeck::playback
