// The `main` of a fuzz target outside libFuzzer: feeds every file named on the command line, and
// every regular file of every directory named (sorted, not recursive), through
// LLVMFuzzerTestOneInput once. CTest runs it over the committed corpus and regressions, so inputs
// that once found bugs, and the seeds, stay tested in the ordinary (gcc) build.
//
// A directory that does not exist is skipped (a target may have no regressions yet); finding no
// input at all is a failure, so a mistyped path cannot pass silently. An invariant that fails
// aborts the process (tests/fuzz/fuzz_check.h), which fails the test.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional in a target, as in libFuzzer.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

namespace fs = std::filesystem;

bool Replay(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy in its own allocation, so reading past the end is caught as under libFuzzer (when the
  // replay is built with a sanitizer).
  const std::vector<uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        if (!Replay(file)) return 1;
        ++replayed;
      }
      std::printf("replay: %zu inputs from %s\n", files.size(), arg.c_str());
    } else if (fs::exists(arg, ec)) {
      if (!Replay(arg)) return 1;
      ++replayed;
    } else {
      std::printf("replay: %s does not exist, skipped\n", arg.c_str());
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  std::printf("replay: %zu inputs, all invariants held\n", replayed);
  return 0;
}
