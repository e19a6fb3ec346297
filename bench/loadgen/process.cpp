#include "process.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace tapedeck::loadgen {

long ReadStatusKb(long pid, std::string_view key) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

double ReadCpuSeconds(long pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int k = 3; k <= 15 && fields >> field; ++k) {
    if (k == 14) utime = std::stod(field);
    if (k == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long CountFds(long pid) {
  if (pid <= 0) return -1;
  std::error_code ec;
  long count = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    ++count;
  }
  return ec ? -1 : count;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

ServerSnapshot TakeSnapshot(long pid) {
  ServerSnapshot s;
  if (pid <= 0) return s;
  s.rss_kb = ReadStatusKb(pid, "VmRSS");
  s.fds = CountFds(pid);
  s.hwm_kb = ReadStatusKb(pid, "VmHWM");
  s.cpu_s = ReadCpuSeconds(pid);
  return s;
}

RssSampler::RssSampler(long pid) : pid_(pid) {
  if (pid_ <= 0) return;
  start_kb_ = ReadStatusKb(pid_, "VmRSS");
  peak_kb_ = start_kb_;
  thread_ = std::thread([this] {
    const auto start = std::chrono::steady_clock::now();
    for (int k = 0; !stop_.load(); ++k) {
      const long kb = ReadStatusKb(pid_, "VmRSS");
      if (kb > 0) {
        std::lock_guard lock(mu_);
        peak_kb_ = std::max(peak_kb_, kb);
        if (k % 10 == 0) {
          seconds_.push_back(
              {ReadCpuSeconds(pid_), SelfCpuSeconds(), kb, CountFds(pid_), LoadAverage()});
        }
      }
      std::this_thread::sleep_until(start + std::chrono::milliseconds(100 * (k + 1)));
    }
  });
}

void RssSampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<RssSampler::Second> RssSampler::seconds() {
  std::lock_guard lock(mu_);
  return seconds_;
}

long RssSampler::peak_kb() {
  std::lock_guard lock(mu_);
  return peak_kb_;
}

}  // namespace tapedeck::loadgen
