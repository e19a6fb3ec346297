// store: counters of this process's PostgreSQL connections, for /metrics (api/queue_metrics.h
// renders them). Process-wide: every connection of every PostgreSQL store and job queue adds to
// them; a process on SQLite alone reads zeros.
//
// Thread-safety: ReadDbMetrics may be called from any thread (relaxed atomics: each value is
// exact, the set of them is not one instant's).
#pragma once

#include <array>
#include <cstdint>

namespace tapedeck::store {

struct DbMetrics {
  // Upper bounds, in seconds, of the round-trip histogram's buckets (+Inf is implied). A round
  // trip: one statement sent and its result read (a statement's first use on a connection
  // prepares it in the same round trip).
  static constexpr std::array<double, 12> kRoundTripBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1};

  // Round trips per bucket (not cumulative), +Inf last.
  std::array<uint64_t, kRoundTripBuckets.size() + 1> round_trips{};
  double round_trip_seconds = 0;  // their total time
  uint64_t reconnects = 0;        // connections re-established after they were lost
};

DbMetrics ReadDbMetrics();

}  // namespace tapedeck::store
