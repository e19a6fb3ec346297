// The first bars of a run for playback (Store::LoadRunHead, Store::LoadBarsBetween): the defaults
// every store inherits, and the readers of blob fronts the SQLite and PostgreSQL stores share.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "store/packing.h"
#include "store/store.h"

namespace tapedeck::store {

RunHead CutRunHead(engine::RunResult result, size_t bars) {
  RunHead head;
  head.total_bars = result.times.size();
  if (!result.times.empty()) head.last_time = result.times.back();
  bars = std::min(bars, result.times.size());
  result.times.resize(bars);
  result.equity.resize(std::min(bars, result.equity.size()));
  for (engine::PlotSeries& p : result.plots) p.values.resize(std::min(bars, p.values.size()));
  std::erase_if(result.events, [&](const engine::OrderEvent& ev) { return ev.bar >= bars; });
  std::erase_if(result.logs, [&](const engine::LogEntry& log) { return log.bar >= bars; });
  result.trades.clear();
  head.result = std::move(result);
  return head;
}

Result<RunHead> Store::LoadRunHead(std::string_view id, size_t max_bars) {
  TD_ASSIGN_OR_RETURN(engine::RunResult & result, LoadRunResult(id));
  return CutRunHead(std::move(result), max_bars);
}

Result<RunAndHead> Store::GetRunAndHead(std::string_view id, size_t max_bars) {
  Result<RunInfo> run = GetRun(id);
  if (!run.ok()) return run.take_error();
  RunAndHead out{std::move(run).value(), std::nullopt};
  if (out.run.status == RunStatus::kDone && (!out.run.stats || out.run.stats->bars > max_bars)) {
    Result<RunHead> head = LoadRunHead(id, max_bars);
    if (!head.ok()) return head.take_error();
    out.head = std::move(head).value();
  }
  return out;
}

Result<engine::RunResult> Store::LoadRunResultInPieces(std::string_view id,
                                                       const std::function<void()>& /*between*/) {
  return LoadRunResult(id);
}

Result<market::Series> Store::LoadBarsBetween(std::string_view name, Timestamp from, Timestamp to) {
  TD_ASSIGN_OR_RETURN(const market::Series& bars, LoadBars(name));
  return bars.Slice(from, to);
}

namespace internal {
namespace {

template <typename T>
T Get(const std::byte* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

struct RecordsHead {
  std::vector<std::byte> records;  // the first `count` records
  size_t count = 0;
  std::vector<std::byte> text;  // their texts, concatenated
};

// The records (of `size` bytes, their bar a u64 at `bar_at`, their text's length a u32 at
// `text_at`) of bars below `bars`, read from the front in pieces: the first piece is what the
// records' spread over the run predicts, each next one twice the last.
Result<RecordsHead> ReadRecordsHead(const BlobRead& records, const BlobRead& text, size_t count,
                                    size_t total_bars, size_t bars, size_t size, size_t bar_at,
                                    size_t text_at) {
  RecordsHead head;
  size_t text_bytes = 0;
  size_t piece = total_bars == 0 ? count : count * bars / total_bars + count / 64 + 64;
  bool done = count == 0;
  while (!done) {
    const size_t want = std::min(piece, count - head.count);
    TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& got, records(head.count * size, want * size));
    if (got.size() != want * size) {
      return MakeError(ErrorCode::kIo, "a records blob ends before its count",
                       {{"count", std::to_string(count)}});
    }
    for (size_t i = 0; i < want; ++i) {
      const std::byte* r = got.data() + i * size;
      if (Get<uint64_t>(r + bar_at) >= bars) {
        done = true;
        break;
      }
      text_bytes += Get<uint32_t>(r + text_at);
      head.records.insert(head.records.end(), r, r + size);
      ++head.count;
    }
    if (head.count == count) done = true;
    piece *= 2;
  }
  if (text_bytes > 0) {
    TD_ASSIGN_OR_RETURN(head.text, text(0, text_bytes));
    if (head.text.size() != text_bytes) {
      return MakeError(ErrorCode::kIo, "a text blob ends before its records' texts",
                       {{"bytes", std::to_string(text_bytes)}});
    }
  }
  return head;
}

std::string_view AsText(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Result<std::vector<engine::OrderEvent>> ReadEventsHead(const BlobRead& records,
                                                       const BlobRead& reasons, size_t count,
                                                       size_t total_bars, size_t bars) {
  // A compact blob's records have no fixed width: decoded from the front, in pieces of the
  // size its spread over the run predicts (~25 bytes an event) and then doubling.
  TD_ASSIGN_OR_RETURN(const std::vector<std::byte>& front,
                      records(0, kCompactEventsMagic.size()));
  if (IsCompactEvents(front)) {
    const size_t guess = total_bars == 0 ? 4096 : count * 32 * bars / total_bars + 4096;
    return ReadEventsHeadCompact(records, reasons, count, bars, guess);
  }
  TD_ASSIGN_OR_RETURN(const RecordsHead& head,
                      ReadRecordsHead(records, reasons, count, total_bars, bars, kEventRecordBytes,
                                      /*bar_at=*/16, /*text_at=*/56));
  return UnpackEvents(head.records, AsText(head.text), head.count);
}

Result<std::vector<engine::LogEntry>> ReadLogsHead(const BlobRead& records, const BlobRead& text,
                                                   size_t count, size_t total_bars, size_t bars) {
  TD_ASSIGN_OR_RETURN(const RecordsHead& head,
                      ReadRecordsHead(records, text, count, total_bars, bars, kLogRecordBytes,
                                      /*bar_at=*/8, /*text_at=*/16));
  return UnpackLogs(head.records, AsText(head.text), head.count);
}

Result<std::vector<engine::PlotSeries>> ReadPlotsHead(const BlobRead& blob, size_t count,
                                                      size_t total_bars, size_t bars) {
  // One read per series mostly: its header, a name of up to kNameGuess bytes and its values.
  constexpr size_t kNameGuess = 232;
  const auto damaged = [](std::string what) { return MakeError(ErrorCode::kIo, std::move(what)); };
  std::vector<engine::PlotSeries> out;
  out.reserve(count);
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::string which = "plot series " + std::to_string(i);
    TD_ASSIGN_OR_RETURN(std::vector<std::byte> got,
                        blob(at, kPlotHeaderBytes + kNameGuess + bars * sizeof(double)));
    if (got.size() < kPlotHeaderBytes) return damaged("plots blob ends inside a header");
    const auto name_len = Get<uint32_t>(got.data() + 0);
    const auto pane = Get<uint8_t>(got.data() + 4);
    const size_t derivation_len = Get<uint8_t>(got.data() + 5);
    const auto first = Get<uint64_t>(got.data() + 8);
    const auto n = Get<uint64_t>(got.data() + 16);
    if (pane > static_cast<uint8_t>(engine::PlotPane::kOwn)) {
      return damaged(which + " has pane " + std::to_string(pane));
    }
    if (first > total_bars || n > total_bars - first || (derivation_len > 0 && (first | n) != 0)) {
      return damaged(which + " runs past the run's bars");
    }
    // The values of bars first .. min(first + n, bars) - 1.
    const size_t here = first >= bars ? 0 : std::min<size_t>(n, bars - first);
    const size_t texts = name_len + derivation_len;
    const size_t need = kPlotHeaderBytes + texts + here * sizeof(double);
    if (got.size() < need) {
      TD_ASSIGN_OR_RETURN(got, blob(at, need));
      if (got.size() < need) return damaged("plots blob ends inside " + which);
    }
    const auto* text = reinterpret_cast<const char*>(got.data() + kPlotHeaderBytes);
    engine::PlotSeries p;
    p.name.assign(text, name_len);
    p.pane = static_cast<engine::PlotPane>(pane);
    if (derivation_len > 0) {
      p.derivation.assign(text + name_len, derivation_len);  // no values: it is derived
    } else {
      p.values.assign(bars, NAN);
    }
    if (here > 0) {
      std::memcpy(p.values.data() + first, got.data() + kPlotHeaderBytes + texts,
                  here * sizeof(double));
    }
    out.push_back(std::move(p));
    at += kPlotHeaderBytes + texts + n * sizeof(double);
  }
  return out;
}

}  // namespace internal
}  // namespace tapedeck::store
