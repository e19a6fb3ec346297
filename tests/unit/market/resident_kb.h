// Internal to the tests: how much of a mapping is in this process's resident set.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace tapedeck::testing_util {

// The resident kB (smaps' Rss) of the mapping holding `p`, or -1 when not found.
inline long ResidentKb(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool in = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      in = lo <= addr && addr < hi;
      continue;
    }
    if (in && line.rfind("Rss:", 0) == 0) return std::stol(line.substr(4));
  }
  return -1;
}

}  // namespace tapedeck::testing_util
