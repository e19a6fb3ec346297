// Where a first frame's time goes when a node opens a done run it has never played: each step of
// loading its tape from the store, timed on a store opened afresh for every round (so nothing is
// cached in the process: PostgreSQL's and the OS's caches stay warm, as on a node that has been
// up a while).
//
//   build/bench/first_frame_bench --store STORE --run ID [--rounds 5]
//
// STORE is what `serve --store` takes (sqlite:PATH or postgresql://...); the run must be done.
// Per round, in ms:
//   whole     the whole tape as before: GetRun, LoadRunResult, LoadBars, Tape::Create (with a
//             built-in's plots materialised first)
//   get_run / result / bars / tape   those steps one by one (bars: first LoadBars of the process,
//             with its checksum pass on SQLite)
//   head / head_bars   Store::LoadRunHead (16,384 bars) and LoadBarsBetween for its bars, alone
//   run_head  Store::GetRunAndHead: the run and its head in one call (what Open reads first)
//   open      api::StoreRunSource::Open: what the stream waits for before its session starts
//   frame     Session::Create on that tape and its first frame (speed 60)
//   complete  Open until the tape has every bar (the rest loads behind the first frames)
//   open_warm Open again on one store kept open across its rounds, which run first (see below)
// Prints one line per round and the medians.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/store_run_source.h"
#include "playback/playback.h"
#include "store/store.h"
#include "strategies/strategies.h"

namespace {

using namespace tapedeck;
using Ms = std::chrono::duration<double, std::milli>;

double Since(std::chrono::steady_clock::time_point t0) {
  return Ms(std::chrono::steady_clock::now() - t0).count();
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

std::unique_ptr<store::Store> OpenFresh(const std::string& spec) {
  return Must(store::OpenStore(spec), "open the store");
}

}  // namespace

int main(int argc, char** argv) {
  std::string spec, run;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--store") == 0) spec = argv[i + 1];
    if (std::strcmp(argv[i], "--run") == 0) run = argv[i + 1];
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  if (spec.empty() || run.empty()) {
    std::fprintf(stderr, "usage: first_frame_bench --store STORE --run ID [--rounds N]\n");
    return 2;
  }
  std::map<std::string, std::vector<double>> all;
  const char* order[] = {"whole",    "get_run", "result", "bars",  "tape",    "head",
                         "head_bars", "run_head", "open",   "frame", "complete", "open_warm"};
  // open_warm: Open on a store opened once (its connections warm, as a node's that has served a
  // while), a source of its own each round (no tape cached); the dataset's bars are in the
  // store's cache from the second round on, as on a node that has played another run of it.
  // Its rounds come first, on their own: a SQLite store is opened by one Store of a process at a
  // time, so the warm one is closed before the others open theirs.
  std::vector<std::map<std::string, double>> rows(static_cast<size_t>(rounds));
  {
    auto warm = OpenFresh(spec);
    for (auto& row : rows) {
      api::StoreRunSource source(*warm);
      auto t0 = std::chrono::steady_clock::now();
      auto tape = Must(source.Open(run), "Open");
      row["open_warm"] = Since(t0);
      while (!tape->complete()) {
        if (!tape->WaitComplete(std::chrono::milliseconds(1)).ok()) return 1;
      }
    }
  }
  for (int r = 0; r < rounds; ++r) {
    std::map<std::string, double>& row = rows[static_cast<size_t>(r)];
    {
      auto st = OpenFresh(spec);
      auto t0 = std::chrono::steady_clock::now();
      auto t = t0;
      const store::RunInfo info = Must(st->GetRun(run), "GetRun");
      row["get_run"] = Since(t);
      t = std::chrono::steady_clock::now();
      engine::RunResult result = Must(st->LoadRunResult(run), "LoadRunResult");
      row["result"] = Since(t);
      std::vector<market::Series> series;
      t = std::chrono::steady_clock::now();
      for (const std::string& d : info.spec.datasets) {
        market::Series s = Must(st->LoadBars(d), "LoadBars");
        if (info.spec.from || info.spec.to) {
          s = s.Slice(info.spec.from.value_or(FromMicros(INT64_MIN)),
                      info.spec.to.value_or(FromMicros(INT64_MAX)));
        }
        series.push_back(std::move(s));
      }
      row["bars"] = Since(t);
      t = std::chrono::steady_clock::now();
      // A built-in's plots are stored as derivations: their values are computed before a tape
      // that holds them can be made (what the old path's Open did).
      if (!series.empty()) Must(strategies::MaterialisePlots(result, series.front()), "plots");
      auto tape =
          Must(playback::Tape::Create(std::make_shared<const engine::RunResult>(std::move(result)),
                                      std::move(series)),
               "Tape::Create");
      row["tape"] = Since(t);
      row["whole"] = Since(t0);
    }
    {
      auto st = OpenFresh(spec);
      const store::RunInfo info = Must(st->GetRun(run), "GetRun");
      auto t = std::chrono::steady_clock::now();
      store::RunHead head =
          Must(st->LoadRunHead(run, api::StoreRunSource::kHeadBars), "LoadRunHead");
      row["head"] = Since(t);
      t = std::chrono::steady_clock::now();
      for (const std::string& d : info.spec.datasets) {
        Must(st->LoadBarsBetween(d, info.spec.from.value_or(FromMicros(INT64_MIN)),
                                 head.result.times.back() + Micros{1}),
             "LoadBarsBetween");
      }
      row["head_bars"] = Since(t);
    }
    {
      auto st = OpenFresh(spec);
      auto t = std::chrono::steady_clock::now();
      Must(st->GetRunAndHead(run, api::StoreRunSource::kHeadBars), "GetRunAndHead");
      row["run_head"] = Since(t);
    }
    {
      auto st = OpenFresh(spec);
      api::StoreRunSource source(*st);
      auto t0 = std::chrono::steady_clock::now();
      auto tape = Must(source.Open(run), "Open");
      row["open"] = Since(t0);
      auto t = std::chrono::steady_clock::now();
      playback::SessionOptions options;
      options.speed = Must(playback::Speed::Parse("60", "speed"), "speed");
      auto session =
          Must(playback::Session::Create(tape, options, playback::SteadyClock::Instance()),
               "Session::Create");
      bool framed = false;
      while (!framed) {
        auto message = session.Poll();
        if (message) {
          framed = message->kind == playback::Outgoing::Kind::kFrame;
          session.OnWriteDone();
        }
      }
      row["frame"] = Since(t);
      while (!tape->complete()) {
        auto st2 = tape->WaitComplete(std::chrono::milliseconds(1));
        if (!st2.ok()) {
          std::fprintf(stderr, "the rest of the tape: %s\n", st2.error().ToString().c_str());
          return 1;
        }
      }
      row["complete"] = Since(t0);
    }
    std::printf("round %d:", r + 1);
    for (const char* k : order) {
      std::printf(" %s %.1f", k, row[k]);
      all[k].push_back(row[k]);
    }
    std::printf("\n");
  }
  std::printf("median:");
  for (const char* k : order) {
    auto& v = all[k];
    std::sort(v.begin(), v.end());
    std::printf(" %s %.1f", k, v[v.size() / 2]);
  }
  std::printf("\n");
  return 0;
}
