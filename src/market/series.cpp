#include <algorithm>
#include <cassert>
#include <functional>

#include "market/mapped_file.h"
#include "market/market.h"

namespace tapedeck::market {
namespace {

struct OwnedColumns {
  std::vector<Timestamp> times;
  std::vector<double> open, high, low, close, volume;
};

}  // namespace

Series Series::FromColumns(std::string symbol, std::vector<Timestamp> times,
                           std::vector<double> open, std::vector<double> high,
                           std::vector<double> low, std::vector<double> close,
                           std::vector<double> volume) {
  assert(open.size() == times.size() && high.size() == times.size() &&
         low.size() == times.size() && close.size() == times.size() &&
         volume.size() == times.size());
  auto cols = std::make_shared<OwnedColumns>(OwnedColumns{std::move(times), std::move(open),
                                                          std::move(high), std::move(low),
                                                          std::move(close), std::move(volume)});
  const OwnedColumns& c = *cols;
  return FromSpans(std::move(symbol), std::move(cols), c.times, c.open, c.high, c.low, c.close,
                   c.volume);
}

Series Series::FromBars(std::string symbol, std::span<const Bar> bars) {
  std::vector<Timestamp> t;
  std::vector<double> o, h, l, c, v;
  for (auto* col : {&o, &h, &l, &c, &v}) col->reserve(bars.size());
  t.reserve(bars.size());
  for (const Bar& b : bars) {
    t.push_back(b.time);
    o.push_back(b.open);
    h.push_back(b.high);
    l.push_back(b.low);
    c.push_back(b.close);
    v.push_back(b.volume);
  }
  return FromColumns(std::move(symbol), std::move(t), std::move(o), std::move(h), std::move(l),
                     std::move(c), std::move(v));
}

Series Series::FromSpans(std::string symbol, std::shared_ptr<const void> owner,
                         std::span<const Timestamp> times, std::span<const double> open,
                         std::span<const double> high, std::span<const double> low,
                         std::span<const double> close, std::span<const double> volume) {
  Series s;
  s.symbol_ = std::move(symbol);
  s.owner_ = std::move(owner);
  s.times_ = times;
  s.open_ = open;
  s.high_ = high;
  s.low_ = low;
  s.close_ = close;
  s.volume_ = volume;
  return s;
}

Series Series::Slice(Timestamp from, Timestamp to) const {
  const size_t b = std::lower_bound(times_.begin(), times_.end(), from) - times_.begin();
  size_t e = std::lower_bound(times_.begin(), times_.end(), to) - times_.begin();
  e = std::max(b, e);
  const size_t n = e - b;
  return FromSpans(symbol_, owner_, times_.subspan(b, n), open_.subspan(b, n),
                   high_.subspan(b, n), low_.subspan(b, n), close_.subspan(b, n),
                   volume_.subspan(b, n));
}

void Series::ReleaseResidentPages() const {
  if (times_.empty()) return;
  // The binary file lays the columns out back to back: times, open, high, low, close, volume.
  const void* begin = times_.data();
  const void* end = times_.data() + times_.size();
  for (std::span<const double> col : {open_, high_, low_, close_, volume_}) {
    begin = std::min<const void*>(begin, col.data(), std::less<>());
    end = std::max<const void*>(end, col.data() + col.size(), std::less<>());
  }
  (void)ReleaseMappedPages(owner_, begin, end);
}

}  // namespace tapedeck::market
