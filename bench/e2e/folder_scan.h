#pragma once

// Shared by the validation benchmarks: scans one folder of query images and
// groups the matches by file name, timing the scan (wall seconds).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::bench {

struct FolderScan {
  int pages = 0;       // pages read, failed ones included
  double seconds = 0;  // wall time of the scan
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> by_member;
};

inline FolderScan ScanFolderMatches(index::Store& store, const std::filesystem::path& folder,
                                    const pipeline::ScanOptions& options) {
  FolderScan scan;
  const auto start = std::chrono::steady_clock::now();
  Status s =
      pipeline::Scan(store, {folder.string()}, options, [&](const pipeline::VolumeReport& r) {
        scan.pages += r.pages;
        for (const auto& m : r.matches) scan.by_member[m.member].push_back(m);
      });
  scan.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!s.ok()) std::fprintf(stderr, "scan failed: %s\n", s.ToString().c_str());
  return scan;
}

// Registers `folder` as work `work`, or with `work_per_file` every file of it
// (in name order) as a work of its own, "<work.id>-<file name>": every
// registered page then has other works beside it, so that a scan reports any
// page it takes for the same picture as another (index::RobustOptions::
// twin_radius). The summed summary, or the first failure.
inline Result<pipeline::RegisterSummary> RegisterFolder(index::Store& store,
                                                        const std::filesystem::path& folder,
                                                        const index::Work& work,
                                                        const pipeline::RegisterOptions& options,
                                                        bool work_per_file) {
  if (!work_per_file) return pipeline::RegisterWork(store, work, {folder.string()}, options);
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  pipeline::RegisterSummary total;
  for (const std::filesystem::path& file : files) {
    index::Work w = work;
    w.id = work.id + "-" + file.filename().string();
    Result<pipeline::RegisterSummary> s =
        pipeline::RegisterWork(store, w, {file.string()}, options);
    if (!s.ok()) return s.status();
    total.volumes += s->volumes;
    total.assets_added += s->assets_added;
    total.assets_skipped += s->assets_skipped;
    total.assets_incomplete += s->assets_incomplete;
    total.units_added += s->units_added;
    total.units_low_quality += s->units_low_quality;
    total.errors.insert(total.errors.end(), s->errors.begin(), s->errors.end());
  }
  return total;
}

}  // namespace kagami::bench
