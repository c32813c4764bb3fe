#pragma once

// Register-then-scan helpers for the matching tests (tests/index): a folder
// registered as one work, a folder scanned with given RobustOptions.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"

namespace kagami::testing {

// Registers every file of `folder` as work `work` (2 extraction threads,
// default options otherwise); the summary or the failure, for the caller to
// assert on.
inline Result<pipeline::RegisterSummary> RegisterFolder(index::Store& store,
                                                        const std::filesystem::path& folder,
                                                        const index::Work& work) {
  pipeline::RegisterOptions options;
  options.extract.threads = 2;
  return pipeline::RegisterWork(store, work, {folder.string()}, options);
}

// Every match of a scan of `folder` (2 threads, `robust`, every page described
// on its own evidence: ScanOptions::local_sample 1), by scanned member.
// A failed scan fails the calling test.
inline std::map<std::string, std::vector<pipeline::PageMatchRecord>> MatchesByMember(
    index::Store& store, const std::filesystem::path& folder, const index::RobustOptions& robust) {
  std::map<std::string, std::vector<pipeline::PageMatchRecord>> by_member;
  pipeline::ScanOptions scan;
  scan.extract.threads = 2;
  scan.robust = robust;
  scan.local_sample = 1;  // each page on its own evidence (not its folder's)
  Status s = pipeline::Scan(store, {folder.string()}, scan, [&](const pipeline::VolumeReport& r) {
    for (const auto& m : r.matches) by_member[m.member].push_back(m);
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return by_member;
}

}  // namespace kagami::testing
