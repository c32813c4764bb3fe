// `kagami scan` and the colour check from the command line: openclipart's
// glossy button registered in purple; the same drawing in blue is not
// reported (PDQ and the local features see one shape), unless the check is
// switched off with --no-colour-check; a re-encoded purple copy is reported
// with the measured "colour_disagreement"; a catalog registered before the
// check gets its pages' colours from `register` run again. Real images from openclipart-png
// (scripts/bootstrap installs it); skipped when missing.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "json_lines.h"
#include "kagami/fingerprint/quantised_features.h"
#include "real_images.h"
#include "shell.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using testing::ClipartButton;
using testing::CommandResult;
using testing::JsonLines;
using testing::RunKagami;
using testing::WriteJpeg;

// The "match" lines of a scan of `path`, with `extra` flags.
std::vector<nlohmann::json> Matches(const std::string& data, const fs::path& path,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--data", data, "scan", "--format", "jsonl"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(path.string());
  CommandResult scan = RunKagami(args);
  EXPECT_EQ(scan.exit_code, 0) << scan.out;
  std::vector<nlohmann::json> matches;
  for (const nlohmann::json& j : JsonLines(scan.out)) {
    if (j["type"] == "match") matches.push_back(j);
  }
  return matches;
}

// The purple button as registered (registered/button.jpg) and two suspect
// copies, re-encoded smaller: the purple drawing (suspect/purple.jpg) and the
// same drawing in blue (suspect/blue.jpg).
class ColourScan : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* colour : {"purple", "blue"}) {
      if (!fs::exists(ClipartButton(colour))) GTEST_SKIP() << ClipartButton(colour) << " missing";
    }
    WriteJpeg(dir_ / "registered" / "button.jpg",
              testing::LoadOnWhite(ClipartButton("purple"), 800), 92);
    for (const char* colour : {"purple", "blue"}) {
      WriteJpeg(dir_ / "suspect" / (std::string(colour) + ".jpg"),
                testing::LoadOnWhite(ClipartButton(colour), 640), 70);
    }
  }

  testing::TempDir dir_;
};

TEST_F(ColourScan, ARecolouredDrawingIsReportedOnlyWithoutTheColourCheck) {
  const std::string data = (dir_ / "data").string();
  CommandResult reg = RunKagami({"--data", data, "register", "--work", "buttons", "--title",
                                 "Buttons", "--json", (dir_ / "registered").string()});
  ASSERT_EQ(reg.exit_code, 0) << reg.out;

  const std::vector<nlohmann::json> copy = Matches(data, dir_ / "suspect" / "purple.jpg", {});
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0]["ref_member"], "button.jpg") << copy[0].dump();
  ASSERT_TRUE(copy[0].contains("colour_disagreement")) << copy[0].dump();
  EXPECT_LE(copy[0]["colour_disagreement"].get<double>(), 0.1) << copy[0].dump();

  EXPECT_TRUE(Matches(data, dir_ / "suspect" / "blue.jpg", {}).empty());
  const std::vector<nlohmann::json> unchecked =
      Matches(data, dir_ / "suspect" / "blue.jpg", {"--no-colour-check"});
  ASSERT_EQ(unchecked.size(), 1u);
  EXPECT_EQ(unchecked[0]["ref_member"], "button.jpg") << unchecked[0].dump();
  EXPECT_FALSE(unchecked[0].contains("colour_disagreement")) << unchecked[0].dump();
}

// The measurement travels with the finding: a recorded match of the purple
// copy keeps its colour disagreement in the ledger (`kagami findings`) and the
// exported, verified bundle's report states it; the blue drawing, dropped by
// the check, records nothing.
TEST_F(ColourScan, ARecordedMatchKeepsItsColourMeasurementInTheLedgerAndTheBundle) {
  const std::string data = (dir_ / "data").string();
  const CommandResult scan = testing::RegisterAndScanRecorded(
      data, "buttons", "Buttons", (dir_ / "registered").string(), (dir_ / "suspect").string());
  ASSERT_EQ(scan.exit_code, 0) << scan.out;

  const CommandResult listed = RunKagami({"--data", data, "findings", "--format", "jsonl"});
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  const std::vector<nlohmann::json> findings = JsonLines(listed.out);
  ASSERT_EQ(findings.size(), 1u) << listed.out;
  EXPECT_NE(findings[0].dump().find("purple.jpg"), std::string::npos) << listed.out;
  ASSERT_EQ(findings[0]["units"].size(), 1u) << listed.out;
  const nlohmann::json& unit = findings[0]["units"][0];
  ASSERT_TRUE(unit.contains("colour_disagreement")) << unit.dump();
  const double disagreement = unit["colour_disagreement"].get<double>();
  EXPECT_GE(disagreement, 0.0) << unit.dump();
  EXPECT_LE(disagreement, 0.1) << unit.dump();

  std::string failure;
  const std::string report =
      testing::ExportVerifiedReport(data, (dir_ / "bundle").string(), &failure);
  ASSERT_FALSE(report.empty()) << failure;
  EXPECT_NE(report.find("colours compared: colour disagreement " +
                        std::to_string(static_cast<int>(disagreement * 100 + 0.5)) + "%"),
            std::string::npos)
      << report;
}

// The local features blob of every page unit, by unit id.
std::map<int64_t, std::vector<uint8_t>> StoredBlobs(const fs::path& catalog) {
  std::map<int64_t, std::vector<uint8_t>> out;
  testing::SqliteDb db = testing::OpenSqlite(catalog);
  EXPECT_NE(db, nullptr) << catalog;
  if (!db) return out;
  testing::SqliteStmt stmt = testing::PrepareSqlite(
      db.get(), "SELECT id, local_features FROM units WHERE time_s < 0 ORDER BY id");
  while (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
    const auto* bytes = static_cast<const uint8_t*>(sqlite3_column_blob(stmt.get(), 1));
    out[sqlite3_column_int64(stmt.get(), 0)] =
        std::vector<uint8_t>(bytes, bytes + sqlite3_column_bytes(stmt.get(), 1));
  }
  return out;
}

// A catalog registered before the colour check has no colour signature in
// its pages' local features (blob version 2), so the recoloured drawing is
// reported: there is nothing to compare it with. `register` run again on the
// same files reads them again and gives those pages the signature
// registration measures today (the blob becomes byte for byte what a fresh
// registration stores, keypoints untouched); from then on the blue drawing is
// dropped and the purple copy still found, and a third run skips the file.
TEST_F(ColourScan, RegisterAgainGivesPagesRegisteredBeforeTheColourCheckTheirColours) {
  const std::string data = (dir_ / "data").string();
  const std::vector<std::string> reg = {"--data",  data,      "register",
                                        "--work",  "buttons", "--title",
                                        "Buttons", "--json",  (dir_ / "registered").string()};
  ASSERT_EQ(RunKagami(reg).exit_code, 0);
  const fs::path catalog = dir_ / "data" / "catalog.sqlite";
  const std::map<int64_t, std::vector<uint8_t>> registered = StoredBlobs(catalog);
  ASSERT_EQ(registered.size(), 1u);
  const auto& [unit, blob] = *registered.begin();
  Result<fingerprint::QuantisedFeatures> features =
      fingerprint::QuantisedFeatures::Deserialize(blob);
  ASSERT_TRUE(features.ok()) << features.status().ToString();
  ASSERT_TRUE(features->colour.measured);

  // As an older Kagami left it: the same keypoints and thumbnail, no colours.
  features->colour = fingerprint::ColourSignature{};
  const std::vector<uint8_t> older = features->Serialize();
  ASSERT_TRUE(fingerprint::LacksColourSignature(older));
  {
    testing::SqliteDb db = testing::OpenSqlite(catalog);
    ASSERT_NE(db, nullptr);
    testing::SqliteStmt update =
        testing::PrepareSqlite(db.get(), "UPDATE units SET local_features = ?1 WHERE id = ?2");
    ASSERT_NE(update, nullptr);
    sqlite3_bind_blob(update.get(), 1, older.data(), static_cast<int>(older.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(update.get(), 2, unit);
    ASSERT_EQ(sqlite3_step(update.get()), SQLITE_DONE);
  }
  EXPECT_EQ(Matches(data, dir_ / "suspect" / "blue.jpg", {}).size(), 1u);

  CommandResult again = RunKagami(reg);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  nlohmann::json summary = nlohmann::json::parse(again.out);
  EXPECT_EQ(summary["assets_added"], 0);
  EXPECT_EQ(summary["assets_skipped"], 0);
  EXPECT_EQ(summary["assets_backfilled"], 1);
  EXPECT_EQ(summary["units_colour_backfilled"], 1);
  EXPECT_EQ(summary["units_backfilled"], 0);  // its blurred hash was there
  EXPECT_EQ(summary["units_backfill_mismatched"], 0);
  EXPECT_TRUE(summary["errors"].empty()) << summary.dump();
  EXPECT_EQ(StoredBlobs(catalog), registered);

  EXPECT_TRUE(Matches(data, dir_ / "suspect" / "blue.jpg", {}).empty());
  const std::vector<nlohmann::json> copy = Matches(data, dir_ / "suspect" / "purple.jpg", {});
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_TRUE(copy[0].contains("colour_disagreement")) << copy[0].dump();

  CommandResult third = RunKagami(reg);
  ASSERT_EQ(third.exit_code, 0) << third.out;
  summary = nlohmann::json::parse(third.out);
  EXPECT_EQ(summary["assets_skipped"], 1);
  EXPECT_EQ(summary["assets_backfilled"], 0);
}

}  // namespace
}  // namespace kagami
