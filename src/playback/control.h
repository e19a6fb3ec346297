// Control: the messages a WebSocket client sends to steer its playback, parsed into Commands.
//
// This is the edge where a control message's fields are checked: a Command holds only valid
// values (a SeekTarget, a Speed), which the Session applies.
//
// Thread-safety: free functions, re-entrant.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/error.h"
#include "playback/speed.h"
#include "playback/timeline.h"

namespace tapedeck::playback {

inline constexpr size_t kMaxControlMessageBytes = 4096;

struct Command {
  enum class Kind { kPlay, kPause, kSeek, kSpeed, kHeartbeat };
  Kind kind = Kind::kPlay;
  SeekTarget target;  // kSeek: the wire's "pos"
  Speed speed;        // kSpeed: the wire's "val"
};

// Parses {"t":"ctrl","cmd":"play|pause|seek|speed","pos":...,"val":...} or {"t":"hb"}.
// Errors, all VALIDATION with details["field"]:
//   "message": over kMaxControlMessageBytes, not JSON, not an object;
//   "t": missing, not a string, or neither "ctrl" nor "hb";
//   "cmd": missing, not a string, or unknown;
//   "pos" (seek): missing, or not an ISO string / digit string / non-negative integer
//     (a negative or fractional number, a bool, null, ... is VALIDATION);
//   "val" (speed): missing, not a number, or outside [kMinSpeed, kMaxSpeed] (Speed::FromDouble).
// Unknown extra fields are ignored. Allocates nothing for a message that fits its stack buffer.
Result<Command> ParseControl(std::string_view text);

// The error for a binary WebSocket message: VALIDATION {"field":"message"}.
Error BinaryMessageError();

}  // namespace tapedeck::playback
