#include "server/pacer.h"

#include <algorithm>

namespace tapedeck::server {

namespace {

bool Later(const auto& a, const auto& b) { return a.at > b.at; }

}  // namespace

Pacer::Pacer(boost::asio::any_io_executor strand) : strand_(strand), timer_(strand_) {}

void Pacer::Schedule(std::weak_ptr<Paced> who, TimePoint at, uint64_t ticket) {
  heap_.push_back({at, ticket, std::move(who)});
  std::push_heap(heap_.begin(), heap_.end(), Later<Entry, Entry>);
  if (!armed_at_ || at < *armed_at_) Arm(at);
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
  // What is due now; what the pass schedules (even for now) waits for the next pass.
  while (!heap_.empty() && heap_.front().at <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), Later<Entry, Entry>);
    due_.push_back(std::move(heap_.back()));
    heap_.pop_back();
  }
  in_pass_ = true;
  for (Entry& e : due_) {
    if (auto who = e.who.lock()) who->OnPaced(e.ticket);
  }
  in_pass_ = false;
  due_.clear();
  for (auto& who : deferred_) who->OnPassEnd();
  for (auto& who : deferred_) who->OnPassWritten();
  deferred_.clear();
  if (!heap_.empty() && (!armed_at_ || heap_.front().at < *armed_at_)) Arm(heap_.front().at);
}

}  // namespace tapedeck::server
