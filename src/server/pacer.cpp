#include "server/pacer.h"

#include <algorithm>
#include <iterator>

#include "playback/clock.h"

namespace tapedeck::server {

Pacer::Pacer(boost::asio::any_io_executor strand) : strand_(strand), timer_(strand_) {}

void Pacer::Schedule(std::weak_ptr<Paced> who, TimePoint at, uint64_t ticket) {
  if (last_bucket_ == buckets_.end() || last_bucket_->first != at) {
    last_bucket_ = buckets_.try_emplace(at).first;
    if (last_bucket_->second.capacity() == 0 && !spare_.empty()) {
      last_bucket_->second = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  last_bucket_->second.push_back({at, ticket, std::move(who)});
  if (!armed_at_ || at < *armed_at_) Arm(at);
}

void Pacer::Recycle(Bucket&& list) {
  constexpr size_t kSpares = 8;  // a few instants an interval are in use at once
  if (list.capacity() != 0 && spare_.size() < kSpares) spare_.push_back(std::move(list));
}

void Pacer::DeferWrite(std::shared_ptr<Paced> who) { deferred_.push_back(std::move(who)); }

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
  for (Entry& e : due_) {
    if (auto who = e.who.lock()) who->OnPaced(e.ticket);
  }
  in_pass_ = false;
  due_.clear();
  Recycle(std::move(due_));
  due_ = Bucket();
  for (auto& who : deferred_) who->OnPassEnd();
  for (auto& who : deferred_) who->OnPassWritten();
  deferred_.clear();
  if (!buckets_.empty() && (!armed_at_ || buckets_.begin()->first < *armed_at_)) {
    Arm(buckets_.begin()->first);
  }
}

}  // namespace tapedeck::server
