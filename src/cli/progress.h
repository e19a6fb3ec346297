// A progress bar on stderr for long imports and runs, shown only when stderr is a terminal and the
// work has lasted long enough to be worth watching.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace tapedeck::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();  // clears the line if anything was drawn

  void Update(size_t done, size_t total);

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  int last_percent_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tapedeck::cli
