#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace tapedeck::cli {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

void ProgressBar::Update(size_t done, size_t total) {
  if (!enabled_ || total == 0) return;
  // Work that finishes within a quarter second is not worth a bar that flickers.
  if (!drawn_ && std::chrono::steady_clock::now() - start_ < std::chrono::milliseconds(250)) return;
  const int percent = static_cast<int>(done * 100 / total);
  if (percent == last_percent_) return;
  last_percent_ = percent;
  constexpr int kWidth = 30;
  const int filled = percent * kWidth / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), filled,
               "##############################", kWidth - filled, "", percent);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace tapedeck::cli
