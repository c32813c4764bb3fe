// `kagami`: a small front end that answers --version itself and otherwise
// replaces itself (execv) with kagami-core, the real command line, from the
// same directory. Start-up matters because scripts call `kagami hash` once per
// file: kagami-core loads some 60 shared libraries (OpenCV, FAISS and BLAS,
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
  core += "kagami-core";
  // `hash` never uses BLAS: keep OpenBLAS from starting its thread pool.
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') {
      if (std::strcmp(argv[i], "hash") == 0) ::setenv("OPENBLAS_NUM_THREADS", "1", 0);
      break;
    }
  }
  ::execv(core.c_str(), argv);
  std::fprintf(stderr, "kagami: cannot run %s: %s\n", core.c_str(), std::strerror(errno));
  return 2;
}
