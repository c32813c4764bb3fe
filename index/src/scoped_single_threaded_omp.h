#pragma once

#include <omp.h>

namespace kagami::index::internal {

// Runs FAISS's OpenMP regions single-threaded on the calling thread and
// restores the caller's setting on destruction (an OpenMP ICV, per thread):
// Kagami parallelises across pages itself (TBB), and nested OpenMP teams would
// oversubscribe the cores and spin under load.
class ScopedSingleThreadedOmp {
 public:
  ScopedSingleThreadedOmp() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~ScopedSingleThreadedOmp() { omp_set_num_threads(previous_); }
  ScopedSingleThreadedOmp(const ScopedSingleThreadedOmp&) = delete;
  ScopedSingleThreadedOmp& operator=(const ScopedSingleThreadedOmp&) = delete;

 private:
  int previous_;
};

}  // namespace kagami::index::internal
