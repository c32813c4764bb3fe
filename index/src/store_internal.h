#pragma once

// The data directory's writer lock, shared by Store (store.cc) and VideoStore
// (video_store.cc), private to kagami_index.

#include <chrono>
#include <filesystem>

#include "kagami/base/status.h"

namespace kagami::index::internal {

// Opens (creating) the lock file and takes its exclusive flock, waiting up to
// `wait` (0: try once). *fd_out receives the locked descriptor (the caller
// closes it to release), or -1 when another process held it all along.
Status LockWriter(const std::filesystem::path& lock_path, std::chrono::milliseconds wait,
                  int* fd_out);

}  // namespace kagami::index::internal
