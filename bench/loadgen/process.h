// The server process as this tool sees it from /proc: its RSS, CPU time and open descriptors,
// plus this process's own CPU time and the machine's load average (other work on the machine
// skews every figure, so each report states it). Linux only. Each read returns -1 when the value
// cannot be read (no such process, pid <= 0).
#pragma once

#include <atomic>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace tapedeck::loadgen {

// The field `key` ("VmRSS", "VmHWM") of /proc/PID/status, in kB.
long ReadStatusKb(long pid, std::string_view key);
// utime + stime of `pid`, in seconds.
double ReadCpuSeconds(long pid);
// Open descriptors of `pid` (entries of /proc/PID/fd).
long CountFds(long pid);
// CPU time of this process, in seconds.
double SelfCpuSeconds();
// The 1-minute load average.
double LoadAverage();

// The server at one moment; all -1 when pid <= 0.
struct ServerSnapshot {
  long rss_kb = -1, fds = -1, hwm_kb = -1;
  double cpu_s = -1;
};
// Reads RSS, descriptors, VmHWM and CPU time, in that order.
ServerSnapshot TakeSnapshot(long pid);

// The share of one core used between two readings of a CPU time `elapsed_s` apart; -1 when
// either reading is -1.
inline double CpuShare(double cpu0_s, double cpu1_s, double elapsed_s) {
  return cpu0_s >= 0 && cpu1_s >= 0 ? (cpu1_s - cpu0_s) / elapsed_s : -1;
}

// Samples the server's VmRSS every 100 ms on a thread of its own, from construction until Stop
// (or destruction); does nothing when pid <= 0. Also keeps, once a second, the CPU time of the
// server and of this process, the RSS, the server's open descriptors and the load average, for
// --timeline and the churn's intervals. Thread-safe.
class RssSampler {
 public:
  struct Second {
    double server_cpu_s = 0, self_cpu_s = 0;
    long rss_kb = 0;
    long fds = -1;
    double loadavg = -1;
  };

  explicit RssSampler(long pid);
  ~RssSampler() { Stop(); }
  RssSampler(const RssSampler&) = delete;
  RssSampler& operator=(const RssSampler&) = delete;

  // Ends the sampling (waits up to 100 ms for the sampling thread). Idempotent.
  void Stop();

  // The samples so far, one per second since construction.
  std::vector<Second> seconds();
  long start_kb() const { return start_kb_; }
  long peak_kb();

 private:
  long pid_;
  long start_kb_ = -1, peak_kb_ = -1;
  std::mutex mu_;
  std::vector<Second> seconds_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tapedeck::loadgen
