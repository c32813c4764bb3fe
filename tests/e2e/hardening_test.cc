// Failures that must stay per-file errors, registration that never
// half-commits, and the data directory shared by several processes (issue 6).

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/index/store.h"
#include "kagami/pipeline/batch_extractor.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/synth/page_generator.h"
#include "shell.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<unsigned char>;

Bytes Page(uint64_t seed) {
  return synth::EncodeJpeg(synth::GenerateMangaPage(seed, 300, 420), 90);
}

// A stored (uncompressed) ZIP of the given members.
void WriteZip(const std::filesystem::path& path,
              const std::vector<std::pair<std::string, Bytes>>& members) {
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_zip(a.get());
  archive_write_zip_set_compression_store(a.get());
  ASSERT_EQ(archive_write_open_filename(a.get(), path.c_str()), ARCHIVE_OK);
  for (const auto& [name, data] : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    ASSERT_EQ(archive_write_header(a.get(), e.get()), ARCHIVE_OK);
    archive_write_data(a.get(), data.data(), data.size());
  }
  ASSERT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
}

class CollectingSink : public pipeline::ExtractSink {
 public:
  void BeginAsset(size_t, size_t, const std::string&, bool) override {}
  void OnPage(fingerprint::PageFingerprint page) override { pages.push_back(std::move(page)); }
  void EndAsset(size_t, size_t, const Status& status) override { asset_status.push_back(status); }
  void EndVolume(size_t) override { ++volumes; }
  std::vector<fingerprint::PageFingerprint> pages;
  std::vector<Status> asset_status;
  int volumes = 0;
};

TEST(ExceptionBarrierTest, AnExceptionWhileProcessingAPageBecomesThatPagesError) {
  testing::TempDir dir;
  for (int i = 0; i < 6; ++i) {
    testing::WriteFile(dir / ("pages/p" + std::to_string(i) + ".jpg"), Page(10 + i));
  }
  std::vector<ingest::Volume> volumes =
      ingest::ExpandInputs({(dir / "pages").string()}, ingest::IngestLimits{});
  pipeline::ExtractOptions options;
  options.threads = 2;
  options.analyze = [](const cv::Mat&, const ingest::EncodedPage&, fingerprint::PdqHasher&,
                       fingerprint::PageFingerprint& page) {
    if (page.member == "p1.jpg") throw std::runtime_error("analyzer exploded");
    if (page.member == "p3.jpg") throw 42;  // not even a std::exception
    if (page.member == "p4.jpg") throw std::bad_alloc();
  };
  CollectingSink sink;
  pipeline::ExtractVolumes(volumes, options, sink);
  ASSERT_EQ(sink.pages.size(), 6u);
  for (const auto& page : sink.pages) {
    if (page.member == "p1.jpg") {
      EXPECT_EQ(page.status.code(), StatusCode::kInternal);
      EXPECT_THAT(page.status.message(), HasSubstr("analyzer exploded"));
    } else if (page.member == "p3.jpg") {
      EXPECT_EQ(page.status.code(), StatusCode::kInternal);
    } else if (page.member == "p4.jpg") {
      EXPECT_EQ(page.status.code(), StatusCode::kResourceExhausted);
    } else {
      EXPECT_TRUE(page.status.ok()) << page.member << ": " << page.status.ToString();
      EXPECT_GT(page.pdq.quality, 0);
    }
  }
}

class RegistrationTest : public ::testing::Test {
 protected:
  index::Work work_{"w1", "Work", "Holder", index::WorkKind::kManga, {}};
  testing::TempDir dir_;

  Result<pipeline::RegisterSummary> Register(const std::vector<std::string>& paths) {
    auto store = index::Store::Open(dir_ / "data");
    if (!store.ok()) return store.status();
    pipeline::RegisterOptions options;
    options.robust = false;
    return pipeline::RegisterWork(**store, work_, paths, options);
  }
};

TEST_F(RegistrationTest, AnAssetWithAFailedPageIsNotCommittedAndIsRetriedNextRun) {
  Bytes broken = Page(2);
  broken.resize(broken.size() / 3);  // truncated JPEG: a page error
  WriteZip(dir_ / "partial.cbz", {{"p1.jpg", Page(1)}, {"p2.jpg", broken}, {"p3.jpg", Page(3)}});
  testing::WriteFile(dir_ / "good.jpg", Page(4));
  for (int run = 0; run < 2; ++run) {
    auto summary = Register({(dir_ / "partial.cbz").string(), (dir_ / "good.jpg").string()});
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->assets_incomplete, 1) << "run " << run;
    EXPECT_EQ(summary->assets_skipped, run == 0 ? 0 : 1) << "run " << run;  // good.jpg
    EXPECT_EQ(summary->assets_added, run == 0 ? 1 : 0) << "run " << run;
    EXPECT_EQ(summary->units_added, run == 0 ? 1 : 0);
    bool listed = false;
    for (const auto& e : summary->errors)
      listed |= e.status.message().find("not registered") != std::string::npos;
    EXPECT_TRUE(listed);
  }
  // Fixed file: the retry registers it whole.
  WriteZip(dir_ / "partial.cbz", {{"p1.jpg", Page(1)}, {"p2.jpg", Page(2)}, {"p3.jpg", Page(3)}});
  auto summary = Register({(dir_ / "partial.cbz").string()});
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->assets_added, 1);
  EXPECT_EQ(summary->units_added, 3);
  EXPECT_EQ(summary->assets_incomplete, 0);
}

TEST_F(RegistrationTest, AnOversizedMemberNameIsAPerFileErrorNotARunFailure) {
  std::string long_name = std::string(17 << 10, 'x') + ".jpg";  // over the catalog's 16 KiB
  WriteZip(dir_ / "hostile.cbz", {{long_name, Page(5)}});
  testing::WriteFile(dir_ / "good.jpg", Page(6));
  auto summary = Register({(dir_ / "hostile.cbz").string(), (dir_ / "good.jpg").string()});
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(summary->assets_added, 1);
  ASSERT_FALSE(summary->errors.empty());
  EXPECT_EQ(summary->errors.front().status.code(), StatusCode::kResourceExhausted);
}

TEST_F(RegistrationTest, AStoreFailureStopsTheRunAtOnce) {
  for (int i = 0; i < 8; ++i) {
    testing::WriteFile(dir_ / ("in/f" + std::to_string(i) + ".jpg"), Page(20 + i));
  }
  { ASSERT_TRUE(index::Store::Open(dir_ / "data").ok()); }
  // The catalog refuses every new asset, as a full or failing disk would.
  {
    testing::SqliteDb db = testing::OpenSqlite(dir_ / "data" / "catalog.sqlite");
    ASSERT_NE(db, nullptr);
    ASSERT_EQ(sqlite3_exec(db.get(),
                           "CREATE TRIGGER fail_inserts BEFORE INSERT ON assets "
                           "BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
  }

  std::atomic<int> opened{0};
  auto store = index::Store::Open(dir_ / "data");
  ASSERT_TRUE(store.ok());
  pipeline::RegisterOptions options;
  options.robust = false;
  options.extract.threads = 1;
  options.extract.max_tokens = 1;
  auto summary =
      pipeline::RegisterWork(**store, work_, {(dir_ / "in").string()}, options,
                             [&](const pipeline::Progress& p) { opened = p.pages_done; });
  ASSERT_FALSE(summary.ok());
  EXPECT_THAT(summary.status().message(), HasSubstr("simulated"));
  EXPECT_LT(opened.load(), 8) << "extraction went on after the store failed";
}

TEST(StoreLockTest, ASecondWriterWaitsOrGivesUpButReadersKeepWorking) {
  testing::TempDir dir;
  auto writer = index::Store::Open(dir / "data");
  ASSERT_TRUE(writer.ok());
  index::StoreOpenOptions no_wait;
  no_wait.lock_wait = std::chrono::milliseconds(0);
  auto second = index::Store::Open(dir / "data", nullptr, no_wait);
  EXPECT_EQ(second.status().code(), StatusCode::kAborted);
  EXPECT_THAT(second.status().message(), HasSubstr("another writer"));
  index::StoreOpenOptions read;
  read.access = index::StoreAccess::kRead;
  auto reader = index::Store::Open(dir / "data", nullptr, read);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->SaveIndex().code(), StatusCode::kAborted);
  writer->reset();  // releases the lock
  auto third = index::Store::Open(dir / "data", nullptr, no_wait);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

// --------------------------------------------------------- two processes

using Process = testing::CommandResult;
Process RunShell(const std::string& command) {
  return testing::RunShell(command, testing::Stderr::kMerge);
}

TEST(ConcurrentProcessesTest, TwoRegistersAndAScanAtOnceLeaveAConsistentStore) {
  testing::TempDir dir;
  for (int w = 0; w < 2; ++w) {
    for (int i = 0; i < 6; ++i) {
      testing::WriteFile(dir / ("work" + std::to_string(w) + "/p" + std::to_string(i) + ".jpg"),
                         Page(100 * (w + 1) + i));
    }
  }
  const std::string kagami =
      std::string("'") + KAGAMI_BINARY + "' --data '" + (dir / "data").string() + "' --threads 1 ";
  // An empty store first, so that the scan has something to open.
  ASSERT_EQ(RunShell(kagami + "works").exit_code, 0);
  std::vector<Process> results(3);
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::string id = "w" + std::to_string(w);
      results[w] = RunShell(kagami + "register --no-local --json --work " + id + " --title T" + id +
                            " '" + (dir / ("work" + std::to_string(w))).string() + "'");
    });
  }
  threads.emplace_back([&] {
    results[2] = RunShell(kagami + "scan --format jsonl '" + (dir / "work0").string() + "'");
  });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results[i].exit_code, 0) << results[i].out;
  for (int w = 0; w < 2; ++w) {
    EXPECT_THAT(results[w].out, HasSubstr("\"units_added\":6")) << results[w].out;
  }
  // Nothing left behind, and a fresh open finds catalog and index consistent.
  for (const auto& entry : std::filesystem::directory_iterator(dir / "data")) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
  bool rebuilt = true;
  auto store = index::Store::Open(dir / "data", &rebuilt);
  ASSERT_TRUE(store.ok());
  EXPECT_FALSE(rebuilt);
  EXPECT_EQ((*store)->pdq_index().size(), 12);
  // Both works are found by a scan afterwards.
  Process scan = RunShell(kagami + "scan --format jsonl '" + (dir / "work1").string() + "'");
  EXPECT_EQ(scan.exit_code, 0) << scan.out;
  EXPECT_THAT(scan.out, HasSubstr("\"w1\""));
}

}  // namespace
}  // namespace kagami

namespace kagami {
namespace {

// ----------------------------------------------------------- command line

std::string Kagami() { return std::string("'") + KAGAMI_BINARY + "' "; }

TEST(CommandLineTest, GlobalOptionsAreAcceptedAfterTheSubcommand) {
  testing::TempDir dir;
  // Large enough that fast mode decodes the JPEG at a reduced scale.
  testing::WriteFile(dir / "page.jpg", synth::EncodeJpeg(synth::GenerateMangaPage(7), 90));
  const std::string page = "'" + (dir / "page.jpg").string() + "'";
  Process before = RunShell(Kagami() + "--decode fast --threads 1 hash " + page);
  Process after = RunShell(Kagami() + "hash --decode fast --threads 1 " + page);
  Process exact = RunShell(Kagami() + "hash " + page);
  ASSERT_EQ(before.exit_code, 0) << before.out;
  ASSERT_EQ(after.exit_code, 0) << after.out;
  EXPECT_EQ(after.out, before.out);
  EXPECT_NE(after.out, exact.out) << "--decode fast after the subcommand was ignored";
  Process data_after = RunShell(Kagami() + "works --data '" + (dir / "d").string() + "'");
  EXPECT_EQ(data_after.exit_code, 0) << data_after.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "d" / "catalog.sqlite"));
}

TEST(CommandLineTest, EverySubcommandsHelpListsEveryOptionWithItsDefault) {
  for (const char* command : {"hash", "register", "scan", "works"}) {
    Process help = RunShell(Kagami() + command + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    for (const char* option : {"--data", "--threads", "--decode"}) {
      EXPECT_THAT(help.out, HasSubstr(option)) << command;
    }
    EXPECT_THAT(help.out, HasSubstr("$KAGAMI_DATA, else ./kagami-data")) << command;
    EXPECT_THAT(help.out, HasSubstr("exact for hash, fast for register and scan")) << command;
  }
  Process scan = RunShell(Kagami() + "scan --help");
  EXPECT_THAT(scan.out, HasSubstr("=31"));    // --radius
  EXPECT_THAT(scan.out, HasSubstr("=text"));  // --format
  EXPECT_THAT(scan.out, HasSubstr("=auto"));  // --local
}

TEST(CommandLineTest, VersionComesFromTheLauncherAndTheCoreAlike) {
  Process version = RunShell(Kagami() + "--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, HasSubstr("kagami "));
  Process help = RunShell(Kagami() + "--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("register"));
}

}  // namespace
}  // namespace kagami
