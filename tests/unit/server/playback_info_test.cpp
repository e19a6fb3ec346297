#include "server/playback_info.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "playback/playback.h"

namespace tapedeck::server {
namespace {

namespace json = boost::json;

TEST(PlaybackInfoTest, HoldsThePlaybackConstantsAndTheServersIntervals) {
  Settings settings;
  settings.heartbeat_interval = Millis(500);
  settings.ping_interval = Millis(1500);
  settings.idle_timeout = Millis(7000);
  settings.max_ws_message = 2048;
  const json::value v = json::parse(PlaybackInfoJson(settings));
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("fps").to_number<int64_t>(), playback::kFramesPerSecond);
  EXPECT_EQ(o.at("sim_seconds_per_second").to_number<int64_t>(), playback::kSimSecondsPerSecond);
  const json::object& speed = o.at("speed").as_object();
  EXPECT_EQ(speed.at("min").to_number<double>(), playback::kMinSpeed);
  EXPECT_EQ(speed.at("max").to_number<double>(), playback::kMaxSpeed);
  EXPECT_EQ(speed.at("default").to_number<double>(), playback::kDefaultSpeed);
  EXPECT_EQ(o.at("heartbeat_ms").to_number<int64_t>(), 500);
  EXPECT_EQ(o.at("ping_ms").to_number<int64_t>(), 1500);
  EXPECT_EQ(o.at("idle_timeout_ms").to_number<int64_t>(), 7000);
  EXPECT_EQ(o.at("max_control_bytes").to_number<int64_t>(), 2048);
  EXPECT_EQ(o.size(), 7u);
}

TEST(PlaybackInfoTest, DefaultsAreTheContractsValues) {
  // The values the web player and docs/api/rest.md describe, spelled out once here.
  EXPECT_EQ(PlaybackInfoJson(Settings{}),
            R"({"fps":30,"sim_seconds_per_second":8760,)"
            R"("speed":{"min":0.01,"max":100000,"default":60},)"
            R"("heartbeat_ms":5000,"ping_ms":5000,"idle_timeout_ms":30000,)"
            R"("max_control_bytes":4096})");
}

TEST(PlaybackInfoTest, HandlerAnswersTheJson) {
  Settings settings;
  Router router;
  router.Add(http::verb::get, "/playback", PlaybackInfoHandler(settings));
  HttpRequest request{http::verb::get, "/playback", 11};
  const HttpResponse res = router.Dispatch(request, "127.0.0.1");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(), PlaybackInfoJson(settings));
}

}  // namespace
}  // namespace tapedeck::server
