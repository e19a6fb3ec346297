#include "playback/clock.h"

namespace tapedeck::playback {

const SteadyClock& SteadyClock::Instance() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace tapedeck::playback
