// The `kagami` command as users and scripts call it: exit codes and the jsonl interface.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "json_lines.h"
#include "kagami/index/store.h"
#include "kagami/synth/page_generator.h"
#include "shell.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami {
namespace {

using testing::CommandResult;
using testing::RunKagami;

using testing::JsonLines;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 6; ++i) {
      page_.push_back(synth::GenerateMangaPage(300 + i, 900, 1300));
      testing::WriteFile(dir_ / ("vol/page" + std::to_string(i + 1) + ".jpg"),
                         synth::EncodeJpeg(page_.back(), 90));
    }
    data_ = (dir_ / "data").string();
  }
  testing::TempDir dir_;
  std::vector<cv::Mat> page_;
  std::string data_;
};

TEST_F(CliTest, UsageErrorsExitWithOne) {
  EXPECT_EQ(RunKagami({}).exit_code, 1);
  EXPECT_EQ(RunKagami({"frobnicate"}).exit_code, 1);
  EXPECT_EQ(RunKagami({"register", "--title", "x", "somewhere"}).exit_code, 1);  // no --work
  EXPECT_EQ(RunKagami({"--data", data_, "scan", "--format", "xml", "a"}).exit_code, 1);
}

TEST_F(CliTest, HashPrintsOneJsonLinePerPageInNaturalOrder) {
  CommandResult r = RunKagami({"hash", "--dihedral", (dir_ / "vol").string()});
  ASSERT_EQ(r.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(lines[i]["unit"], "page");
    EXPECT_EQ(lines[i]["index"], i);
    EXPECT_THAT(lines[i]["file"].get<std::string>(),
                ::testing::EndsWith("page" + std::to_string(i + 1) + ".jpg"));
    EXPECT_EQ(lines[i]["member"], "page" + std::to_string(i + 1) + ".jpg");
    EXPECT_EQ(lines[i]["pdq"].get<std::string>().size(), 64u);
    EXPECT_EQ(lines[i]["dihedral"].size(), 8u);
    EXPECT_EQ(lines[i]["dihedral"][0], lines[i]["pdq"]);
    EXPECT_GE(lines[i]["quality"].get<int>(), 50);
  }
}

// `hash --stored` recomputes what `register` stored for each page: PDQ, the
// trimmed view's PDQ (a page on a white margin has one, a full-bleed page
// none) and the blurred hash, as the catalog holds them.
TEST_F(CliTest, HashStoredPrintsTheHashesRegisterStored) {
  cv::Mat margin(1500, 1100, CV_8UC3, cv::Scalar(255, 255, 255));
  page_[1].copyTo(margin(cv::Rect(100, 100, page_[1].cols, page_[1].rows)));
  cv::Mat bleed(1340, 940, CV_8UC3);  // a frame of noise: nothing to trim
  cv::randu(bleed, cv::Scalar::all(0), cv::Scalar::all(256));
  page_[0].copyTo(bleed(cv::Rect(20, 20, page_[0].cols, page_[0].rows)));
  testing::WriteFile(dir_ / "stored/a.jpg", synth::EncodeJpeg(bleed, 90));
  testing::WriteFile(dir_ / "stored/b.jpg", synth::EncodeJpeg(margin, 90));
  ASSERT_EQ(RunKagami({"--data", data_, "register", "--work", "w", "--title", "W",
                       (dir_ / "stored").string()})
                .exit_code,
            0);
  CommandResult r = RunKagami({"hash", "--stored", (dir_ / "stored").string()});
  ASSERT_EQ(r.exit_code, 0);
  std::map<std::string, nlohmann::json> by_member;
  for (const nlohmann::json& j : JsonLines(r.out)) by_member[j["member"]] = j;
  ASSERT_EQ(by_member.size(), 2u);
  EXPECT_FALSE(by_member["a.jpg"].contains("trimmed_pdq"));
  EXPECT_TRUE(by_member["b.jpg"].contains("trimmed_pdq"));

  index::StoreOpenOptions read_only;
  read_only.access = index::StoreAccess::kRead;
  auto store = index::Store::Open(data_, nullptr, read_only);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int64_t unit = 1; unit <= 2; ++unit) {
    Result<index::UnitRef> ref = (*store)->catalog().GetUnitRef(unit);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    const nlohmann::json& j = by_member[ref->member];
    ASSERT_TRUE(j.contains("blurred_pdq")) << ref->member;
    EXPECT_EQ(j["pdq"], ref->pdq.ToHex()) << ref->member;
    ASSERT_EQ(j.contains("trimmed_pdq"), ref->pdq_trimmed.has_value()) << ref->member;
    if (ref->pdq_trimmed) EXPECT_EQ(j["trimmed_pdq"], ref->pdq_trimmed->ToHex()) << ref->member;
    ASSERT_TRUE(ref->pdq_blurred.has_value()) << ref->member;
    EXPECT_EQ(j["blurred_pdq"], ref->pdq_blurred->ToHex()) << ref->member;
  }
  // Without --stored the output is as before: no other hashes.
  CommandResult plain = RunKagami({"hash", (dir_ / "stored/b.jpg").string()});
  ASSERT_EQ(plain.exit_code, 0);
  EXPECT_FALSE(JsonLines(plain.out).at(0).contains("blurred_pdq"));
}

// A catalog made before the blurred hash (its pages have none) gets them
// from `register` run again on the same files: those files are read again,
// their pages given the hashes registration computes today, and the index
// takes them; a page that now decodes to another PDQ hash gets none.
TEST_F(CliTest, RegisterAgainGivesPagesRegisteredWithoutBlurredHashesTheirs) {
  const std::vector<std::string> reg = {"--data",     data_,    "register",
                                        "--work",     "vol1",   "--title",
                                        "Volume One", "--json", (dir_ / "vol").string()};
  ASSERT_EQ(RunKagami(reg).exit_code, 0);
  const std::filesystem::path catalog = dir_ / "data" / "catalog.sqlite";
  std::map<int64_t, std::string> registered;  // unit -> its blurred hash, as registered
  auto blurred_hashes = [&]() {
    std::map<int64_t, std::string> out;
    testing::SqliteDb db = testing::OpenSqlite(catalog);
    EXPECT_NE(db, nullptr);
    if (!db) return out;
    testing::SqliteStmt stmt =
        testing::PrepareSqlite(db.get(), "SELECT id, hex(pdq_blurred) FROM units ORDER BY id");
    while (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt.get(), 1);
      out[sqlite3_column_int64(stmt.get(), 0)] = text ? reinterpret_cast<const char*>(text) : "";
    }
    return out;
  };
  registered = blurred_hashes();
  ASSERT_EQ(registered.size(), 6u);
  for (const auto& [unit, hex] : registered) ASSERT_EQ(hex.size(), 64u) << unit;

  // As an older Kagami left it: no blurred hashes, and unit 3's PDQ hash not
  // what the file decodes to now.
  {
    testing::SqliteDb db = testing::OpenSqlite(catalog);
    ASSERT_NE(db, nullptr);
    ASSERT_EQ(sqlite3_exec(db.get(),
                           "UPDATE units SET pdq_blurred = NULL, blurred_quality = 0; "
                           "UPDATE units SET pdq = zeroblob(32) WHERE id = 3",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  for (const auto& [unit, hex] : blurred_hashes()) EXPECT_EQ(hex, "") << unit;

  CommandResult again = RunKagami(reg);
  ASSERT_EQ(again.exit_code, 0);
  nlohmann::json summary = nlohmann::json::parse(again.out);
  EXPECT_EQ(summary["assets_added"], 0);
  EXPECT_EQ(summary["assets_skipped"], 0);
  EXPECT_EQ(summary["assets_backfilled"], 6);
  EXPECT_EQ(summary["units_backfilled"], 5);
  EXPECT_EQ(summary["units_backfill_mismatched"], 1);
  ASSERT_EQ(summary["errors"].size(), 1u);
  EXPECT_THAT(summary["errors"][0]["error"].get<std::string>(),
              ::testing::HasSubstr("decode to another PDQ hash"));
  const std::map<int64_t, std::string> backfilled = blurred_hashes();
  for (const auto& [unit, hex] : registered) {
    EXPECT_EQ(backfilled.at(unit), unit == 3 ? "" : hex) << unit;
  }

  // The index holds the new hashes: the next run opens it without a rebuild,
  // and skips the files (unit 3's page cannot be helped by reading it again,
  // but its hash mismatch is reported each run).
  CommandResult third = RunKagami(reg, testing::Stderr::kMerge);
  ASSERT_EQ(third.exit_code, 0) << third.out;
  EXPECT_THAT(third.out, ::testing::Not(::testing::HasSubstr("index rebuilt")));
  summary = nlohmann::json::parse(third.out.substr(third.out.rfind("\n{") + 1));
  EXPECT_EQ(summary["assets_skipped"], 5);
  EXPECT_EQ(summary["assets_backfilled"], 1);
  EXPECT_EQ(summary["units_backfilled"], 0);
}

TEST_F(CliTest, HashOfACorruptFileReportsAnErrorAndExitsTwo) {
  testing::WriteFile(dir_ / "bad.jpg", std::string("\xFF\xD8\xFF\xE0garbage", 11));
  CommandResult r = RunKagami({"hash", (dir_ / "bad.jpg").string()});
  EXPECT_EQ(r.exit_code, 2);
  std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(lines[0].contains("error"));
}

TEST_F(CliTest, RegisterThenScanFindsMirroredCopiesAsJsonl) {
  CommandResult reg = RunKagami({"--data", data_, "register", "--work", "vol1", "--title",
                                 "Volume One", "--rights-holder", "Holder", "--id", "isbn=42",
                                 "--json", (dir_ / "vol").string()});
  ASSERT_EQ(reg.exit_code, 0);
  nlohmann::json summary = nlohmann::json::parse(reg.out);
  EXPECT_EQ(summary["units_added"], 6);

  for (int i = 0; i < 6; ++i) {
    cv::Mat mirrored = synth::ApplyEdit(page_[i], synth::Edit::kMirror, 1);
    testing::WriteFile(dir_ / ("suspect/" + std::to_string(i) + ".jpg"),
                       synth::EncodeJpeg(mirrored, 60));
  }
  testing::WriteFile(dir_ / "other/x.jpg",
                     synth::EncodeJpeg(synth::GenerateMangaPage(9999, 900, 1300), 80));

  CommandResult scan = RunKagami({"--data", data_, "scan", "--format", "jsonl",
                                  (dir_ / "suspect").string(), (dir_ / "other").string()});
  ASSERT_EQ(scan.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(scan.out);
  int matches = 0;
  std::vector<nlohmann::json> summaries;
  for (const auto& j : lines) {
    if (j["type"] == "match") {
      ++matches;
      EXPECT_EQ(j["work"], "vol1");
      EXPECT_EQ(j["title"], "Volume One");
      EXPECT_EQ(j["index"], j["ref_index"]);
      // PDQ names the left-right mirror "flipY" (a flip about the vertical axis).
      EXPECT_EQ(j["variant"], "flipY");
      EXPECT_LE(j["distance"].get<int>(), 31);
    } else {
      summaries.push_back(j);
    }
  }
  EXPECT_GE(matches, 5);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(summaries[0]["verdict"], "match");
  EXPECT_EQ(summaries[0]["works"][0]["work"], "vol1");
  EXPECT_EQ(summaries[1]["verdict"], "no_match");

  CommandResult works = RunKagami({"--data", data_, "works", "--format", "jsonl"});
  ASSERT_EQ(works.exit_code, 0);
  std::vector<nlohmann::json> w = JsonLines(works.out);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]["units"], 6);
  EXPECT_EQ(w[0]["identifiers"]["isbn"], "42");
}

TEST_F(CliTest, ScanStillWorksAfterTheIndexFileIsDamaged) {
  ASSERT_EQ(RunKagami({"--data", data_, "register", "--work", "v", "--title", "V",
                       (dir_ / "vol").string()})
                .exit_code,
            0);
  testing::WriteFile(std::filesystem::path(data_) / "pdq.index", std::string("garbage"));
  CommandResult scan =
      RunKagami({"--data", data_, "scan", "--format", "jsonl", (dir_ / "vol").string()});
  ASSERT_EQ(scan.exit_code, 0);
  std::vector<nlohmann::json> lines = JsonLines(scan.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["verdict"], "match");
}

TEST_F(CliTest, AStoreThatIsNotACatalogIsARuntimeFailure) {
  testing::WriteFile(std::filesystem::path(data_) / "catalog.sqlite", std::string(4096, 'x'));
  CommandResult r = RunKagami({"--data", data_, "works"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace kagami
