#include "wire.h"

#include <charconv>

namespace tapedeck::loadgen {

MessageType TypeOf(std::string_view json) {
  constexpr std::string_view kTag = "\"t\":\"";
  const auto at = json.find(kTag);
  if (at == std::string_view::npos || at > 8) return MessageType::kOther;
  const std::string_view rest = json.substr(at + kTag.size());
  if (rest.starts_with("frame\"")) return MessageType::kFrame;
  if (rest.starts_with("hb\"")) return MessageType::kHeartbeat;
  if (rest.starts_with("end\"")) return MessageType::kEnd;
  if (rest.starts_with("err\"")) return MessageType::kError;
  return MessageType::kOther;
}

std::optional<int64_t> IntField(std::string_view json, std::string_view key, bool from_back) {
  const auto at = from_back ? json.rfind(key) : json.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* p = json.data() + at + key.size();
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(p, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::string WsUpgradeRequest(const std::string& host, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

std::string SseRequest(const std::string& host, const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host +
         "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
}

ResponseHead ParseResponseHead(std::string_view bytes) {
  ResponseHead head;
  const auto end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    head.result = bytes.size() > 16384 ? ResponseHead::kTooLong : ResponseHead::kNeedMore;
    return head;
  }
  head.result = ResponseHead::kHead;
  head.status = bytes.substr(0, bytes.find('\r'));
  head.size = end + 4;
  return head;
}

std::string MaskedFrame(uint8_t opcode, std::string_view payload) {
  static constexpr uint8_t kMask[4] = {0x12, 0x34, 0x56, 0x78};
  std::string frame;
  frame += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  frame.append(reinterpret_cast<const char*>(kMask), 4);
  for (size_t k = 0; k < payload.size(); ++k) {
    frame += static_cast<char>(payload[k] ^ kMask[k % 4]);
  }
  return frame;
}

WsParse ParseWsFrame(std::string_view bytes, WsFrame& frame, const char** why) {
  if (bytes.size() < 2) return WsParse::kNeedMore;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  frame.fin = p[0] & 0x80;
  frame.opcode = p[0] & 0x0f;
  uint64_t length = p[1] & 0x7f;
  size_t header = 2;
  if (p[1] & 0x80) {
    *why = "masked frame from the server";
    return WsParse::kBad;
  }
  if (length == 126) {
    if (bytes.size() < 4) return WsParse::kNeedMore;
    length = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (length == 127) {
    if (bytes.size() < 10) return WsParse::kNeedMore;
    length = 0;
    for (int k = 0; k < 8; ++k) length = (length << 8) | p[2 + k];
    header = 10;
  }
  if (length > (64u << 20)) {
    *why = "frame over 64 MiB";
    return WsParse::kBad;
  }
  if (bytes.size() < header + length) return WsParse::kNeedMore;
  frame.payload = bytes.substr(header, length);
  frame.size = header + length;
  return WsParse::kFrame;
}

}  // namespace tapedeck::loadgen
