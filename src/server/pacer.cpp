#include "server/pacer.h"

#include <algorithm>
#include <iterator>

#include "playback/clock.h"

namespace tapedeck::server {
namespace {

// How many streams ahead of the one driven a pass prefetches: each stream's visit is ~1 us
// (a send, for the deferred writes), ample time for its successor's lines to arrive.
constexpr size_t kPrefetchAhead = 2;

void Prefetch(Paced::Footprint f) {
  constexpr size_t kLine = 64;
  for (size_t off = 0; off < f.size + kLine - 1; off += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(f.begin + off), 1, 3);
  }
}

}  // namespace

Pacer::Pacer(boost::asio::any_io_executor strand) : strand_(strand), timer_(strand_) {}

void Pacer::Schedule(std::weak_ptr<Paced> who, TimePoint at, uint64_t ticket,
                     Paced::Footprint footprint) {
  if (last_bucket_ == buckets_.end() || last_bucket_->first != at) {
    last_bucket_ = buckets_.try_emplace(at).first;
    if (last_bucket_->second.capacity() == 0 && !spare_.empty()) {
      last_bucket_->second = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  last_bucket_->second.push_back({at, ticket, std::move(who), footprint});
  if (!armed_at_ || at < *armed_at_) Arm(at);
}

void Pacer::Recycle(Bucket&& list) {
  constexpr size_t kSpares = 8;  // a few instants an interval are in use at once
  if (list.capacity() != 0 && spare_.size() < kSpares) spare_.push_back(std::move(list));
}

void Pacer::DeferWrite(std::shared_ptr<Paced> who) {
  deferred_footprints_.push_back(who->footprint());
  deferred_.push_back(std::move(who));
}

void Pacer::Arm(TimePoint at) {
  armed_at_ = at;
  timer_.expires_at(at);  // cancels a wait for a later time
  timer_.async_wait([this](const boost::system::error_code& ec) { OnTimer(ec); });
}

void Pacer::OnTimer(const boost::system::error_code& ec) {
  if (ec) return;  // re-armed earlier (that wait is pending), or the server is going away
  armed_at_.reset();
  const TimePoint now = std::chrono::steady_clock::now();
  // The whole pass (its streams' polls, deadlines, writes and their completions) reads this one
  // instant: one clock read a pass instead of several a frame.
  const playback::SteadyClock::Pin pin(now);
  // What is due now, earliest instant first; what the pass schedules (even for now) waits for the
  // next pass.
  while (!buckets_.empty() && buckets_.begin()->first <= now) {
    auto first = buckets_.begin();
    if (due_.empty()) {
      std::swap(due_, first->second);
    } else {
      std::move(first->second.begin(), first->second.end(), std::back_inserter(due_));
      first->second.clear();
    }
    Recycle(std::move(first->second));
    if (last_bucket_ == first) last_bucket_ = buckets_.end();
    buckets_.erase(first);
  }
  in_pass_ = true;
  for (size_t i = 0; i < kPrefetchAhead && i < due_.size(); ++i) Prefetch(due_[i].footprint);
  for (size_t i = 0; i < due_.size(); ++i) {
    if (i + kPrefetchAhead < due_.size()) Prefetch(due_[i + kPrefetchAhead].footprint);
    if (auto who = due_[i].who.lock()) who->OnPaced(due_[i].ticket);
  }
  in_pass_ = false;
  due_.clear();
  Recycle(std::move(due_));
  due_ = Bucket();
  const size_t n = deferred_.size();
  for (size_t i = 0; i < kPrefetchAhead && i < n; ++i) Prefetch(deferred_footprints_[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) Prefetch(deferred_footprints_[i + kPrefetchAhead]);
    deferred_[i]->OnPassEnd();
  }
  for (size_t i = 0; i < kPrefetchAhead && i < n; ++i) Prefetch(deferred_footprints_[i]);
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) Prefetch(deferred_footprints_[i + kPrefetchAhead]);
    deferred_[i]->OnPassWritten();
  }
  deferred_.clear();
  deferred_footprints_.clear();
  if (!buckets_.empty() && (!armed_at_ || buckets_.begin()->first < *armed_at_)) {
    Arm(buckets_.begin()->first);
  }
}

}  // namespace tapedeck::server
