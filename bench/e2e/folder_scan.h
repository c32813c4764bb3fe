#pragma once

// Shared by the validation benchmarks: scans one folder of query images and
// groups the matches by file name, timing the scan (wall seconds).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kagami/index/store.h"
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

}  // namespace kagami::bench
