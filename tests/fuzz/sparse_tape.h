// The run the playback fuzz targets play: minute bars in bursts with gaps of days between them, so
// that at most speeds many windows hold no bars (seeks snap, Last-Event-ID often names an empty
// window), and a few order events for the frames to carry.
#pragma once

#include <cstdlib>
#include <memory>
#include <vector>

#include "playback/playback.h"
#include "unit/playback/tape_fixture.h"

namespace tapedeck::fuzz {

inline std::shared_ptr<const playback::Tape> MakeSparseTape() {
  playback::testing::TapeSpec spec{{playback::testing::Range(120)}};
  for (int64_t m : playback::testing::Range(60, 1000)) spec.minutes[0].push_back(m);
  for (int64_t m : {5000, 5001, 20000, 100000}) spec.minutes[0].push_back(m);
  spec.events = {playback::testing::Event(1, 3),
                 playback::testing::Event(2, 130, engine::OrderStatus::kSubmitted),
                 playback::testing::Event(3, 182)};
  std::vector<market::Series> series;
  auto run = playback::testing::MakeRun(spec, &series);
  // A small frame cache: a long fuzzing run visits many speeds, and eviction gets exercised too.
  auto tape = playback::Tape::Create(run, std::move(series),
                                     playback::TapeOptions{.frame_cache_bytes = 256 << 10});
  if (!tape.ok()) std::abort();
  return *tape;
}

// One tape for the whole process, as a server shares one per run.
inline const std::shared_ptr<const playback::Tape>& SparseTape() {
  static const std::shared_ptr<const playback::Tape> tape = MakeSparseTape();
  return tape;
}

}  // namespace tapedeck::fuzz
