#include "server/wire_cache.h"

#include <functional>
#include <string_view>

namespace tapedeck::server {

size_t WriteWebSocketTextHeader(char* out, uint64_t payload_size) {
  out[0] = static_cast<char>(0x80 | 0x1);  // FIN, text
  if (payload_size < 126) {
    out[1] = static_cast<char>(payload_size);
    return 2;
  }
  if (payload_size < 65536) {
    out[1] = 126;
    out[2] = static_cast<char>(payload_size >> 8);
    out[3] = static_cast<char>(payload_size & 0xFF);
    return 4;
  }
  out[1] = 127;
  for (int k = 0; k < 8; ++k) out[2 + k] = static_cast<char>((payload_size >> (56 - 8 * k)) & 0xFF);
  return 10;
}

std::shared_ptr<const std::string> WireCache::Get(const playback::Outgoing& message,
                                                  Framing framing) {
  const std::string* head = message.shared.get();
  if (message.kind != playback::Outgoing::Kind::kFrame || head == nullptr ||
      head->size() > kMaxHead) {
    ++stats_.misses;
    return nullptr;
  }
  if (slots_.empty()) slots_.resize(kSlots);
  // The head's address names it (the slot's reference keeps it from being reused meanwhile); the
  // envelope is a few bytes (the dropped count; SSE's id).
  const auto address = reinterpret_cast<uintptr_t>(head);
  size_t h = (address >> 4) ^ std::hash<std::string_view>()(message.suffix) ^
             (static_cast<size_t>(framing) << 40);
  if (!message.prefix.empty()) h ^= std::hash<std::string_view>()(message.prefix) * 31;
  h *= 0x9E3779B97F4A7C15ull;  // the top bits mix them all
  Slot& slot = slots_[h >> (64 - kSlotBits)];
  if (slot.head.get() != head || slot.framing != framing || slot.prefix != message.prefix ||
      slot.suffix != message.suffix) {
    slot.head = message.shared;
    slot.framing = framing;
    slot.prefix = message.prefix;
    slot.suffix = message.suffix;
    slot.bytes.reset();
    ++stats_.misses;
    return nullptr;
  }
  if (!slot.bytes) {
    const size_t payload = message.prefix.size() + head->size() + message.suffix.size();
    auto bytes = std::make_shared<std::string>();
    bytes->reserve(10 + payload);
    if (framing == Framing::kWebSocketText) {
      char header[10];
      bytes->append(header, WriteWebSocketTextHeader(header, payload));
    }
    *bytes += message.prefix;
    *bytes += *head;
    *bytes += message.suffix;
    slot.bytes = std::move(bytes);
    ++stats_.builds;
  } else {
    ++stats_.hits;
  }
  return slot.bytes;
}

}  // namespace tapedeck::server
