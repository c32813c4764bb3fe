#pragma once

// Expensive, deterministic test inputs (generated clips, a registered data
// directory) made once per build tree instead of once per test process
// (ctest runs every test of a suite in its own process).
//
// A cached folder lives under KAGAMI_TEST_CACHE_DIR (the build tree, defined
// by tests/CMakeLists.txt), named by the caller's name and a key that hashes
// everything its contents depend on (generator commands, tool versions, the
// binary under test), so that any change makes a new folder. It is built in a
// private folder and renamed into place, so concurrent test processes never
// see a half-built one; the loser of a race uses the winner's. Callers treat
// the folder as read-only (copy what a test writes to).

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace kagami::testing {

// FNV-1a 64 over a sequence of strings (each terminated, so ("ab","c") and
// ("a","bc") differ).
class CacheKey {
 public:
  CacheKey& Add(const std::string& s) {
    for (unsigned char c : s) h_ = (h_ ^ c) * 1099511628211ull;
    h_ = (h_ ^ 0xffu) * 1099511628211ull;
    return *this;
  }
  // The identity of a built program: size and modification time (ns) of
  // every file in its folder whose name starts with its name (a launcher and
  // the binaries it runs, e.g. kagami, kagami-core, kagami-hash).
  CacheKey& AddProgram(const std::filesystem::path& program) {
    std::error_code ec;
    const std::string stem = program.filename().string();
    for (const auto& e : std::filesystem::directory_iterator(program.parent_path(), ec)) {
      const std::string name = e.path().filename().string();
      struct stat st {};
      if (name.rfind(stem, 0) != 0 || ::stat(e.path().c_str(), &st) != 0) continue;
      Add(name + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec));
    }
    return *this;
  }
  std::string Hex() const {
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h_));
    return out;
  }

 private:
  uint64_t h_ = 1469598103934665603ull;
};

// The cached folder `name`-`key` under KAGAMI_TEST_CACHE_DIR, made with
// `build(folder)` when missing. Returns an empty path when `build` returns
// false (it reports its own failure).
inline std::filesystem::path CachedDir(
    const std::string& name, const CacheKey& key,
    const std::function<bool(const std::filesystem::path&)>& build) {
  namespace fs = std::filesystem;
  const fs::path root = KAGAMI_TEST_CACHE_DIR;
  const fs::path dir = root / (name + "-" + key.Hex());
  std::error_code ec;
  if (fs::exists(dir / ".complete", ec)) return dir;
  const fs::path building = root / (name + "-" + key.Hex() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(building, ec);
  fs::create_directories(building, ec);
  if (!build(building)) {
    fs::remove_all(building, ec);
    return {};
  }
  std::ofstream(building / ".complete") << "ok\n";
  fs::rename(building, dir, ec);  // fails when another process got there first: use theirs
  if (ec) fs::remove_all(building, ec);
  return fs::exists(dir / ".complete", ec) ? dir : fs::path();
}

}  // namespace kagami::testing
