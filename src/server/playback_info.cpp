#include "server/playback_info.h"

#include <chrono>
#include <cmath>

#include "common/json_writer.h"
#include "playback/playback.h"

namespace tapedeck::server {
namespace {

// A speed as people write it: 100000, not the shortest round-trip form 1e+05.
void WriteSpeed(JsonWriter& w, double speed) {
  if (speed == std::floor(speed) && std::fabs(speed) < 1e15) {
    w.Int(static_cast<int64_t>(speed));
  } else {
    w.Number(speed);
  }
}

}  // namespace

std::string PlaybackInfoJson(const Settings& settings) {
  const auto ms = [](Millis d) { return static_cast<int64_t>(d.count()); };
  JsonWriter w;
  w.BeginObject();
  w.Key("fps").Int(playback::kFramesPerSecond);
  w.Key("sim_seconds_per_second").Int(playback::kSimSecondsPerSecond);
  w.Key("speed").BeginObject();
  w.Key("min");
  WriteSpeed(w, playback::kMinSpeed);
  w.Key("max");
  WriteSpeed(w, playback::kMaxSpeed);
  w.Key("default");
  WriteSpeed(w, playback::kDefaultSpeed);
  w.EndObject();
  w.Key("heartbeat_ms").Int(ms(settings.heartbeat_interval));
  w.Key("ping_ms").Int(ms(settings.ping_interval));
  w.Key("idle_timeout_ms").Int(ms(settings.idle_timeout));
  w.Key("max_control_bytes").Int(static_cast<int64_t>(settings.max_ws_message));
  w.EndObject();
  return w.Take();
}

Handler PlaybackInfoHandler(const Settings& settings) {
  return [body = PlaybackInfoJson(settings)](const Request& req) {
    return JsonResponse(req.http, http::status::ok, body);
  };
}

}  // namespace tapedeck::server
