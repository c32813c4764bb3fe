// `kagami`: a small front end that answers --version itself and otherwise
// replaces itself (execv) with kagami-hash for `hash` (lean_hash.cc: a few
// image files, handing anything else on to kagami-core) or with kagami-core,
// the real command line, both from the same directory. Start-up matters because scripts call
// `kagami hash` once per file: kagami-core loads some 60 shared libraries (OpenCV, FAISS and BLAS,
// poppler, SQLite, ...) and runs their initialisers, which this process never
// does. The version string comes from CMake (KAGAMI_VERSION_STRING) so both
// binaries print the same.

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::puts(KAGAMI_VERSION_STRING);
    return 0;
  }
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::fprintf(stderr, "kagami: cannot find its own executable: %s\n", std::strerror(errno));
    return 2;
  }
  self[n] = '\0';
  std::string core(self);
  core.erase(core.rfind('/') + 1);
  // The subcommand: the first word that is neither an option nor the value of
  // a global option given as two words (--data DIR, --threads N, --decode MODE).
  const char* command = nullptr;
  for (int i = 1; i < argc && command == nullptr; ++i) {
    if (argv[i][0] != '-') {
      command = argv[i];
    } else if (std::strcmp(argv[i], "--data") == 0 || std::strcmp(argv[i], "--threads") == 0 ||
               std::strcmp(argv[i], "--decode") == 0) {
      ++i;
    }
  }
  core += command != nullptr && std::strcmp(command, "hash") == 0 ? "kagami-hash" : "kagami-core";
  ::execv(core.c_str(), argv);
  std::fprintf(stderr, "kagami: cannot run %s: %s\n", core.c_str(), std::strerror(errno));
  return 2;
}
