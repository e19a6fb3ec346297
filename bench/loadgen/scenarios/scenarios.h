// The load generator's scenarios, one per mode of the command line. Each runs against the
// server at `endpoint`, prints a readable summary and one JSON line starting with {"mode":, and
// returns the process's exit status for its part: 0, or 1 when it failed.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "options.h"

namespace tapedeck::loadgen {

// --backtest: POST /backtests --runs times, each polled until done.
int RunBacktests(const Options& o, const boost::asio::ip::tcp::endpoint& endpoint);

// --first-frame: fresh WebSocket connections one after another, handshake -> first frame.
int RunFirstFrame(const Options& o, const boost::asio::ip::tcp::endpoint& endpoint);

// --n without --churn: concurrent playback streams for --duration seconds.
int RunStreams(const Options& o, const boost::asio::ip::tcp::endpoint& endpoint);

// --churn: connect/play/disconnect cycles beside --n looping background streams, and whether the
// server gives back what the cycles took. 1 when a criterion fails.
int RunChurn(const Options& o, const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace tapedeck::loadgen
