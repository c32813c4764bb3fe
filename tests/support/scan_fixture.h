#pragma once

// Register-then-scan helpers for the matching tests (tests/index): a folder
// registered as one work, a folder scanned with given RobustOptions.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cjk_pages.h"
#include "kagami/index/robust_matcher.h"
#include "kagami/index/store.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/pipeline/scanner.h"
#include "temp_dir.h"

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

// The scanned members that matched the registered page of the same file
// name (a copy named after its page); a match to any other page fails the
// calling test.
inline std::set<std::string> FoundOwnPages(
    const std::map<std::string, std::vector<pipeline::PageMatchRecord>>& by_member) {
  std::set<std::string> found;
  for (const auto& [member, matches] : by_member) {
    for (const pipeline::PageMatchRecord& m : matches) {
      EXPECT_EQ(m.ref.member, member) << member << " matched a page it does not show";
      if (m.ref.member == member) found.insert(member);
    }
  }
  return found;
}

// Opens the store at `data` and registers every file of `folder` as `work`,
// expecting `units` pages; fails the calling test (and returns null) otherwise.
inline std::unique_ptr<index::Store> OpenAndRegister(const std::filesystem::path& data,
                                                     const std::filesystem::path& folder,
                                                     const index::Work& work, int units) {
  auto store = index::Store::Open(data);
  if (!store.ok()) {
    ADD_FAILURE() << store.status().ToString();
    return nullptr;
  }
  auto summary = RegisterFolder(**store, folder, work);
  if (!summary.ok() || summary->units_added != units) {
    ADD_FAILURE() << (summary.ok() ? std::to_string(summary->units_added) + " units added"
                                   : summary.status().ToString());
    return nullptr;
  }
  return std::move(store).value();
}

// A fixture holding one registered work of same-font CJK pages (CjkTextPage)
// in a temporary data directory.
class CjkWorkTest : public ::testing::Test {
 protected:
  // Writes `count` pages from `first_seed` into dir_/registered and registers
  // them as `work` in dir_/data. Skips the test without fonts-noto-cjk; the
  // caller's SetUp returns when IsSkipped() or HasFatalFailure().
  void RegisterCjkWork(int count, uint32_t first_seed, const index::Work& work) {
    if (!std::filesystem::exists(kNotoSansCjk)) {
      GTEST_SKIP() << kNotoSansCjk << " missing (scripts/bootstrap installs it)";
    }
    dir_ = temp_.path();
    cv::Ptr<cv::freetype::FreeType2> ft = NotoSansCjk();
    pages_ = WriteCjkPages(*ft, dir_ / "registered", count, first_seed);
    store_ = OpenAndRegister(dir_ / "data", dir_ / "registered", work, count);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { store_.reset(); }

  TempDir temp_;
  std::filesystem::path dir_;
  std::vector<cv::Mat> pages_;  // the registered pages, in name order (CjkPageName)
  std::unique_ptr<index::Store> store_;
};

}  // namespace kagami::testing
