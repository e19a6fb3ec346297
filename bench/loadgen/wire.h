// The client side of the wire, without sockets: the requests we send, the RFC 6455 frames we
// read and write, SSE events, and the few fields of a server message we look at (no JSON parser
// on the hot path). Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tapedeck::loadgen {

// ---- Messages ---------------------------------------------------------------------------------

enum class MessageType { kFrame, kHeartbeat, kEnd, kError, kOther };

// The type of a server message, from its leading `"t":"..."`.
MessageType TypeOf(std::string_view json);

// The integer after `"key":`, searched from the front (`"i"`, `"n"`) or the back (`"dropped"`,
// which is the frame's last field); nullopt when absent or not a number.
std::optional<int64_t> IntField(std::string_view json, std::string_view key, bool from_back);

// ---- Requests ---------------------------------------------------------------------------------

// A WebSocket upgrade of `target`. A fixed Sec-WebSocket-Key: the server checks its form, and we
// do not check its answer's hash.
std::string WsUpgradeRequest(const std::string& host, const std::string& target);
std::string SseRequest(const std::string& host, const std::string& target);

// The status line and length of the response head at the front of `bytes`.
struct ResponseHead {
  enum Result { kHead, kNeedMore, kTooLong } result = kNeedMore;
  std::string_view status;  // "HTTP/1.1 101 Switching Protocols"
  size_t size = 0;          // up to and including the blank line
};
// kNeedMore while the blank line has not come; kTooLong when over 16 KiB came without one.
ResponseHead ParseResponseHead(std::string_view bytes);

// ---- WebSocket framing (RFC 6455) -------------------------------------------------------------

inline constexpr uint8_t kWsText = 0x1;
inline constexpr uint8_t kWsClose = 0x8;
inline constexpr uint8_t kWsPing = 0x9;
inline constexpr uint8_t kWsPong = 0xA;
// The payload of a close frame with status 1000 (normal closure).
inline constexpr std::string_view kWsNormalClosure = "\x03\xe8";

// A client frame: FIN, `opcode`, masked payload (RFC 6455 5.3). REQUIRES: payload < 64 KiB.
std::string MaskedFrame(uint8_t opcode, std::string_view payload);

// One frame from a server (RFC 6455 5.2; server frames are unmasked).
struct WsFrame {
  bool fin = false;
  uint8_t opcode = 0;
  std::string_view payload;  // points into the parsed bytes
  size_t size = 0;           // header and payload
};

enum class WsParse { kFrame, kNeedMore, kBad };

// The frame at the front of `bytes` into `frame`; kNeedMore when it is not all there yet; kBad,
// with `why`, for a masked frame or one over 64 MiB.
WsParse ParseWsFrame(std::string_view bytes, WsFrame& frame, const char** why);

// ---- SSE --------------------------------------------------------------------------------------

// The JSON of each complete SSE event at the front of `bytes` (its `data:` line), passed to
// `on_message`; returns how many bytes were consumed.
template <typename OnMessage>
size_t ParseSseEvents(std::string_view bytes, OnMessage&& on_message) {
  size_t pos = 0;
  for (;;) {
    const auto end = bytes.find("\n\n", pos);
    if (end == std::string_view::npos) return pos;
    const std::string_view event = bytes.substr(pos, end - pos);
    if (const auto data = event.find("data: "); data != std::string_view::npos) {
      std::string_view json = event.substr(data + 6);
      on_message(json.substr(0, json.find('\n')));
    }
    pos = end + 2;
  }
}

}  // namespace tapedeck::loadgen
