#include "playback/control.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

namespace tapedeck::playback {
namespace {

namespace json = boost::json;

Error Invalid(std::string msg, std::string_view field) {
  return MakeError(ErrorCode::kValidation, std::move(msg), {{"field", std::string(field)}});
}

// Largest window index taken from a JSON double: anything beyond is surely out of range, and
// converting it to an integer would be undefined.
constexpr double kMaxIndexDouble = 9.0e15;

// A seek's "pos": an ISO string, a digit string or a non-negative integer (3.0 included).
Result<SeekTarget> SeekTargetFromJson(const json::value& pos) {
  switch (pos.kind()) {
    case json::kind::string:
      return ParseSeekTarget(std::string_view(pos.get_string()), "pos");
    case json::kind::uint64:
      return SeekTarget{pos.get_uint64()};
    case json::kind::int64:
      if (pos.get_int64() >= 0) return SeekTarget{static_cast<uint64_t>(pos.get_int64())};
      break;
    case json::kind::double_: {
      const double d = pos.get_double();
      // 3.0 is the integer 3; 2.5 and -1.0 are not window indices.
      if (std::isfinite(d) && d >= 0 && d <= kMaxIndexDouble && std::floor(d) == d) {
        return SeekTarget{static_cast<uint64_t>(d)};
      }
      break;
    }
    default:
      break;
  }
  return Invalid("pos must be an ISO-8601 time or a non-negative integer window index", "pos");
}

}  // namespace

Error BinaryMessageError() {
  return Invalid("binary messages are not accepted; send JSON text", "message");
}

Result<Command> ParseControl(std::string_view text) {
  if (text.size() > kMaxControlMessageBytes) {
    return MakeError(ErrorCode::kValidation, "message exceeds 4096 bytes",
                     {{"field", "message"}, {"limit", std::to_string(kMaxControlMessageBytes)}});
  }
  // Messages are small: parse into a stack buffer, allocating nothing in the common case.
  unsigned char buffer[8192];
  json::monotonic_resource resource(buffer, sizeof buffer);
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec, &resource);
  if (ec) return Invalid("message is not JSON: " + ec.message(), "message");
  const json::object* obj = doc.if_object();
  if (!obj) return Invalid("message must be a JSON object", "message");

  const json::value* t = obj->if_contains("t");
  if (!t || !t->is_string()) return Invalid("t must be \"ctrl\" or \"hb\"", "t");
  const std::string_view kind = t->get_string();
  if (kind == "hb") return Command{Command::Kind::kHeartbeat, {}, {}};
  if (kind != "ctrl") return Invalid("t must be \"ctrl\" or \"hb\"", "t");

  const json::value* cmd = obj->if_contains("cmd");
  if (!cmd || !cmd->is_string()) return Invalid("cmd must be play, pause, seek or speed", "cmd");
  const std::string_view name = cmd->get_string();
  if (name == "play") return Command{Command::Kind::kPlay, {}, {}};
  if (name == "pause") return Command{Command::Kind::kPause, {}, {}};
  if (name == "seek") {
    const json::value* pos = obj->if_contains("pos");
    if (!pos) return Invalid("seek needs pos", "pos");
    Result<SeekTarget> target = SeekTargetFromJson(*pos);
    if (!target.ok()) return target.take_error();
    return Command{Command::Kind::kSeek, *target, {}};
  }
  if (name == "speed") {
    const json::value* val = obj->if_contains("val");
    if (!val) return Invalid("speed needs val", "val");
    if (!val->is_number()) return Invalid("val must be a number", "val");
    Result<Speed> speed = Speed::FromDouble(val->to_number<double>(), "val");
    if (!speed.ok()) return speed.take_error();
    return Command{Command::Kind::kSpeed, {}, *speed};
  }
  return MakeError(ErrorCode::kValidation, "cmd must be play, pause, seek or speed",
                   {{"field", "cmd"}, {"got", std::string(name.substr(0, 32))}});
}

}  // namespace tapedeck::playback
