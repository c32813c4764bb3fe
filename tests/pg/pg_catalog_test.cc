// The catalog on PostgreSQL against a real server (pg_server.h): the same
// catalog semantics as SQLite (one test body, both backends), registration
// from two processes at once, a scanning node's incremental index refresh
// (PDQ, local and frame indexes), videos registered on one node and found
// from another, and `kagami store migrate` of an embedded catalog with its
// videos.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "kagami/fingerprint/quantised_features.h"
#include "kagami/index/catalog.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/pg_catalog.h"
#include "kagami/index/store.h"
#include "kagami/index/video_store.h"
#include "kagami/pipeline/scanner.h"
#include "kagami/store/pg_connection.h"
#include "kagami/synth/page_generator.h"
#include "pg_server.h"
#include "process.h"
#include "temp_dir.h"

namespace kagami {
namespace {

namespace fs = std::filesystem;
using index::AssetRecord;
using index::Catalog;
using index::UnitRecord;
using index::Work;
using testing::ReadText;
using testing::Spawn;
using testing::Wait;

// One server for the whole suite (each test gets its own database).
testing::PgServer* Server(std::string& error) {
  static std::unique_ptr<testing::PgServer> server = testing::PgServer::Start(error);
  return server.get();
}

class PgCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = Server(error);
    if (!server_ && testing::PgServer::FindBinDir().empty()) GTEST_SKIP() << error;
    ASSERT_TRUE(server_) << error;
    static int databases = 0;
    std::string db = "catalog_" + std::to_string(++databases);
    ASSERT_EQ(server_->CreateDatabase(db), "");
    conninfo_ = server_->Conninfo(db);
  }

  // Generated manga pages as PNG files in `dir` (registration input).
  static void WritePages(const fs::path& dir, int first_seed, int count) {
    for (int i = 0; i < count; ++i) {
      int seed = first_seed + i;
      testing::WriteFile(dir / ("p" + std::to_string(seed) + ".png"),
                         synth::EncodePng(synth::GenerateMangaPage(seed, 640, 920)));
    }
  }
  // A JPEG copy of the page of `seed` (a scan query).
  static void WriteCopy(const fs::path& path, int seed) {
    testing::WriteFile(path, synth::EncodeJpeg(synth::GenerateMangaPage(seed, 640, 920), 80));
  }

  std::vector<std::string> Kagami(const fs::path& data, bool pg) const {
    std::vector<std::string> args = {KAGAMI_BINARY, "--data", data.string(), "--threads", "2"};
    if (pg) {
      args.push_back("--store");
      args.push_back(conninfo_);
    }
    return args;
  }

  int Register(const fs::path& data, bool pg, const std::string& work, const fs::path& pages,
               const fs::path& log) const {
    std::vector<std::string> args = Kagami(data, pg);
    for (const char* a : {"register", "--work"}) args.push_back(a);
    args.push_back(work);
    args.push_back("--title");
    args.push_back("Title of " + work);
    args.push_back(pages.string());
    return Wait(Spawn(args, log));
  }

  // source file name -> (verdict, matched works) from `kagami scan --format jsonl`.
  std::map<std::string, std::pair<std::string, std::set<std::string>>> Scan(
      const fs::path& data, bool pg, const fs::path& queries, const fs::path& log) const {
    std::vector<std::string> args = Kagami(data, pg);
    for (const char* a : {"scan", "--format", "jsonl"}) args.push_back(a);
    // Each file its own volume (a folder would be scanned as one chapter).
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(queries)) files.insert(entry.path().string());
    args.insert(args.end(), files.begin(), files.end());
    fs::path out = log;
    out += ".out";
    EXPECT_EQ(Wait(Spawn({"sh", "-c",
                          [&] {
                            std::string cmd;
                            for (const std::string& a : args) cmd += "'" + a + "' ";
                            return cmd + "2>" + log.string();
                          }()},
                         out)),
              0)
        << ReadText(log);
    std::map<std::string, std::pair<std::string, std::set<std::string>>> verdicts;
    for (const std::string& line : testing::Lines(ReadText(out))) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j.value("type", "") != "summary") continue;
      auto& v = verdicts[fs::path(j.value("source", "")).filename().string()];
      v.first = j.value("verdict", "");
      for (const auto& w : j["works"])
        if (w.value("matched", false)) v.second.insert(w.value("work", ""));
    }
    return verdicts;
  }

  testing::PgServer* server_ = nullptr;
  // How a scanning node opens the shared catalog: read-only, its index cache
  // in its own data directory.
  index::StoreOpenOptions ScanningNodeOptions() const {
    index::StoreOpenOptions options;
    options.access = index::StoreAccess::kRead;
    options.catalog_conninfo = conninfo_;
    return options;
  }

  std::string conninfo_;
  testing::TempDir dir_;
};

// --- The same catalog semantics on both backends ---------------------------

UnitRecord MakeUnit(int i, bool with_extras) {
  UnitRecord u;
  u.page_index = i;
  u.member = "page" + std::to_string(i) + ".png";
  for (size_t b = 0; b < u.pdq.bytes.size(); ++b) u.pdq.bytes[b] = static_cast<uint8_t>(i * 31 + b);
  u.quality = 40 + i * 10;  // 40 (not indexed), 50, 60, ...
  if (with_extras) {
    u.local_features = {0, 1, 2, 0xff, static_cast<uint8_t>(i)};
    fingerprint::Hash256 t = u.pdq;
    t.bytes[0] ^= 0xff;
    u.pdq_trimmed = t;
    u.trimmed_quality = 70;
    fingerprint::Hash256 b = u.pdq;
    b.bytes[1] ^= 0xff;
    u.pdq_blurred = b;
    u.blurred_quality = 65;
  }
  return u;
}

std::string Sha(char c) { return std::string(64, c); }

// Runs the golden catalog behaviour on `catalog`; returns the digests of the
// stored assets so that both backends can be compared.
std::vector<std::string> ExerciseCatalog(Catalog& catalog) {
  std::vector<std::string> digests;
  Work work{"w1", "Work One", "Holder", index::WorkKind::kManga, {{"isbn", "978-4"}}};
  EXPECT_TRUE(catalog.UpsertWork(work).ok());
  work.title = "Work One (renamed)";
  EXPECT_TRUE(catalog.UpsertWork(work).ok());
  auto got = catalog.GetWork("w1");
  EXPECT_TRUE(got.ok() && got->has_value());
  if (got.ok() && got->has_value()) {
    EXPECT_EQ((*got)->title, "Work One (renamed)");
    EXPECT_EQ((*got)->identifiers.at("isbn"), "978-4");
  }

  AssetRecord a{"w1", "/reg/vol1.cbz", Sha('A'), 1234, "application/zip"};
  std::vector<UnitRecord> units = {MakeUnit(0, false), MakeUnit(1, true), MakeUnit(2, true)};
  std::vector<int64_t> ids;
  auto added = catalog.AddAsset(a, units, &ids);
  EXPECT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

  // Idempotency key: the same content (any case) is refused, nothing written.
  auto dup = catalog.AddAsset({"w1", "/elsewhere", Sha('a'), 1, "image/png"}, {MakeUnit(5, false)});
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  // Unknown work, bad unit: kNotFound / kInvalidArgument, and no rows.
  EXPECT_EQ(catalog.AddAsset({"nope", "/x", Sha('b'), 1, "image/png"}, {}).status().code(),
            StatusCode::kNotFound);
  UnitRecord bad = MakeUnit(3, false);
  bad.quality = 101;
  EXPECT_EQ(catalog.AddAsset({"w1", "/y", Sha('c'), 1, "image/png"}, {MakeUnit(4, false), bad})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  auto none = catalog.FindAssetBySha256(Sha('c'));
  EXPECT_TRUE(none.ok() && !none->has_value());
  auto held = catalog.FindAssetWork(Sha('a'));
  EXPECT_TRUE(held.ok() && held->has_value()) << held.status().ToString();
  if (held.ok() && held->has_value()) {
    EXPECT_EQ(**held, "w1");
  }
  auto unheld = catalog.FindAssetWork(Sha('c'));
  EXPECT_TRUE(unheld.ok() && !unheld->has_value());
  EXPECT_EQ(catalog.UnitCount(), 3);

  auto works = catalog.ListWorks();
  EXPECT_TRUE(works.ok());
  if (works.ok() && works->size() == 1) {
    EXPECT_EQ((*works)[0].assets, 1);
    EXPECT_EQ((*works)[0].units, 3);
  }
  if (ids.size() == 3) {
    auto ref = catalog.GetUnitRef(ids[1]);
    EXPECT_TRUE(ref.ok());
    if (ref.ok()) {
      EXPECT_EQ(ref->work_id, "w1");
      EXPECT_EQ(ref->title, "Work One (renamed)");
      EXPECT_EQ(ref->member, "page1.png");
      EXPECT_EQ(ref->pdq, units[1].pdq);
      EXPECT_EQ(ref->pdq_trimmed, units[1].pdq_trimmed);
      EXPECT_EQ(ref->pdq_blurred, units[1].pdq_blurred);
      EXPECT_EQ(ref->trimmed_quality, units[1].trimmed_quality);
      EXPECT_EQ(ref->blurred_quality, units[1].blurred_quality);
    }
    auto blob = catalog.GetLocalFeatures(ids[2]);
    EXPECT_TRUE(blob.ok() && *blob == units[2].local_features);
    auto empty = catalog.GetLocalFeatures(ids[0]);
    EXPECT_TRUE(empty.ok() && empty->empty());
    // Hashes after a mark: unit 1 and 2 with their trimmed views and blurred hashes.
    std::vector<std::pair<int64_t, int>> seen;
    EXPECT_TRUE(catalog
                    .ForEachUnitHashAfter(ids[0],
                                          [&](int64_t id, const fingerprint::Hash256&, int q) {
                                            seen.push_back({id, q});
                                          })
                    .ok());
    std::vector<std::pair<int64_t, int>> want = {{ids[1], 50}, {ids[1], 70}, {ids[1], 65},
                                                 {ids[2], 60}, {ids[2], 70}, {ids[2], 65}};
    EXPECT_EQ(seen, want);
    auto stats = catalog.GetIndexStats(50);
    EXPECT_TRUE(stats.ok() && stats->count == 6 && stats->max_unit_id == ids[2]);
    auto upto = catalog.GetIndexStats(50, ids[1]);
    EXPECT_TRUE(upto.ok() && upto->count == 3 && upto->max_unit_id == ids[1]);
  }
  EXPECT_TRUE(catalog.CheckIntegrity().ok());
  auto shas = catalog.ListPageAssetSha256s();
  EXPECT_TRUE(shas.ok() && *shas == std::vector<std::string>{Sha('a')});
  auto content = catalog.GetAssetContent(Sha('a'));
  EXPECT_TRUE(content.ok() && content->has_value());
  if (content.ok() && content->has_value()) {
    EXPECT_EQ((*content)->units.size(), 3u);
    digests.push_back(index::AssetDigest(**content));
  }

  // Unit 0 was registered without a blurred hash: the same file extracted
  // again gives it one; a page whose PDQ hash differs from the stored one
  // (another decode) keeps none.
  auto lacking = catalog.CountUnitsLacking(Sha('a'));
  EXPECT_TRUE(lacking.ok() && lacking->blurred == 1 && lacking->colour == 0);
  std::vector<UnitRecord> other_decode = {MakeUnit(0, true)};
  other_decode[0].pdq.bytes[5] ^= 1;
  auto refused = catalog.AddMissingBlurredHashes(Sha('a'), other_decode);
  EXPECT_TRUE(refused.ok() && refused->filled.empty() && refused->mismatched == 1);
  auto backfill = catalog.AddMissingBlurredHashes(
      Sha('a'), {MakeUnit(0, true), MakeUnit(1, true), MakeUnit(2, true)});
  EXPECT_TRUE(backfill.ok()) << backfill.status().ToString();
  if (backfill.ok() && backfill->filled.size() == 1 && ids.size() == 3) {
    EXPECT_EQ(backfill->filled[0].unit_id, ids[0]);
    EXPECT_EQ(backfill->filled[0].hash, *MakeUnit(0, true).pdq_blurred);
    EXPECT_EQ(backfill->filled[0].quality, 65);
    EXPECT_EQ(backfill->mismatched, 0);
    auto ref = catalog.GetUnitRef(ids[0]);
    EXPECT_TRUE(ref.ok() && ref->pdq_blurred == MakeUnit(0, true).pdq_blurred &&
                ref->blurred_quality == 65);
  } else {
    ADD_FAILURE() << "unit 0 was not given its blurred hash";
  }
  lacking = catalog.CountUnitsLacking(Sha('a'));
  EXPECT_TRUE(lacking.ok() && lacking->blurred == 0 && lacking->colour == 0);
  EXPECT_EQ(catalog.AddMissingBlurredHashes(Sha('c'), {}).status().code(), StatusCode::kNotFound);

  // A file registered before the colour check: its page with a thumbnail and
  // no colour signature (a version 2 blob) gets the signature the same file
  // extracted again carries, unless the page decodes to another PDQ hash;
  // pages with one already, or with no thumbnail, are left as they are, and
  // so is a damaged blob (counted, not an error that would stop a register).
  fingerprint::QuantisedFeatures q;
  q.thumbnail = {32, 4, std::vector<uint8_t>(128, 5)};
  q.page_height = 0.125f;
  q.words = {7, 8, 9};
  q.signatures = {1, 2, 3};
  q.points = {{0.1f, 0.05f}, {0.5f, 0.1f}, {0.9f, 0.02f}};
  fingerprint::ColourSignature red;
  red.measured = true;
  red.chromatic = 0.4;
  red.hue[3] = 1.0;
  std::vector<UnitRecord> pages = {MakeUnit(0, true), MakeUnit(1, true), MakeUnit(2, true),
                                   MakeUnit(3, true)};
  pages[0].local_features = q.Serialize();                         // version 2
  pages[3].local_features = {'K', 'L', 'Q', 2, 0xff, 0xff, 0xff};  // version 2, damaged
  fingerprint::QuantisedFeatures with_colour = q;
  with_colour.colour = red;
  pages[1].local_features = with_colour.Serialize();  // version 3
  std::vector<int64_t> page_ids;
  EXPECT_TRUE(
      catalog.AddAsset({"w1", "/reg/vol2.cbz", Sha('d'), 99, "application/zip"}, pages, &page_ids)
          .ok());
  auto colourless = catalog.CountUnitsLacking(Sha('d'));
  EXPECT_TRUE(colourless.ok() && colourless->colour == 2 && colourless->blurred == 0)
      << colourless.status().ToString();
  std::vector<UnitRecord> again = {MakeUnit(0, false), MakeUnit(1, false), MakeUnit(2, false),
                                   MakeUnit(3, false)};
  for (UnitRecord& u : again) u.colour = red;
  std::vector<UnitRecord> decoded_otherwise = again;
  decoded_otherwise[0].pdq.bytes[3] ^= 1;
  auto mismatched = catalog.AddMissingColour(Sha('d'), decoded_otherwise);
  EXPECT_TRUE(mismatched.ok() && mismatched->filled.empty() && mismatched->mismatched == 1);
  auto coloured = catalog.AddMissingColour(Sha('d'), again);
  EXPECT_TRUE(coloured.ok()) << coloured.status().ToString();
  if (coloured.ok() && page_ids.size() == 4) {
    EXPECT_EQ(coloured->filled, std::vector<int64_t>{page_ids[0]});
    EXPECT_EQ(coloured->mismatched, 0);
    EXPECT_EQ(coloured->damaged, 1);
    auto blob = catalog.GetLocalFeatures(page_ids[0]);
    EXPECT_TRUE(blob.ok() && *blob == with_colour.Serialize());
    auto kept = catalog.GetLocalFeatures(page_ids[2]);
    EXPECT_TRUE(kept.ok() && *kept == MakeUnit(2, true).local_features);
  } else {
    ADD_FAILURE() << "the version 2 page was not given its colour signature";
  }
  colourless = catalog.CountUnitsLacking(Sha('d'));
  EXPECT_TRUE(colourless.ok() && colourless->colour == 1);  // the damaged one
  EXPECT_EQ(catalog.AddMissingColour(Sha('c'), {}).status().code(), StatusCode::kNotFound);
  return digests;
}

TEST_F(PgCatalogTest, SqliteAndPostgresCatalogsBehaveAlike) {
  auto sqlite = Catalog::Open(dir_ / "catalog.sqlite");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
  auto pg = index::OpenPgCatalog(conninfo_);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ((*pg)->backend(), "postgresql");
  std::vector<std::string> a = ExerciseCatalog(**sqlite);
  std::vector<std::string> b = ExerciseCatalog(**pg);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a, b);  // byte-identical content, blobs included
  // A second open of the same database migrates nothing and sees the same data.
  auto again = index::OpenPgCatalog(conninfo_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->UnitCount(), 7);  // vol1 and vol2
}

// --- Whole commands ---------------------------------------------------------

TEST_F(PgCatalogTest, RegisterFromTwoProcessesAtOnceThenScanFindsBoth) {
  WritePages(dir_ / "a", 7100, 4);
  WritePages(dir_ / "b", 7200, 4);
  WriteCopy(dir_ / "q" / "copy_a.jpg", 7102);
  WriteCopy(dir_ / "q" / "copy_b.jpg", 7201);
  WriteCopy(dir_ / "q" / "decoy.jpg", 7999);
  // Two machines: each its own data directory, one catalog.
  std::vector<std::string> ra = Kagami(dir_ / "node1", true), rb = Kagami(dir_ / "node2", true);
  for (auto* args : {&ra, &rb}) {
    for (const char* a : {"register", "--work"}) args->push_back(a);
  }
  ra.insert(ra.end(), {"work-a", "--title", "A", (dir_ / "a").string()});
  rb.insert(rb.end(), {"work-b", "--title", "B", (dir_ / "b").string()});
  pid_t pa = Spawn(ra, dir_ / "ra.log");
  pid_t pb = Spawn(rb, dir_ / "rb.log");
  EXPECT_EQ(Wait(pa), 0) << ReadText(dir_ / "ra.log");
  EXPECT_EQ(Wait(pb), 0) << ReadText(dir_ / "rb.log");

  auto pg = index::OpenPgCatalog(conninfo_);
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ((*pg)->UnitCount(), 8);
  EXPECT_TRUE((*pg)->CheckIntegrity().ok());

  // `kagami works` lists both from any machine.
  std::vector<std::string> works = Kagami(dir_ / "node4", true);
  works.insert(works.end(), {"works", "--format", "jsonl"});
  ASSERT_EQ(Wait(Spawn(works, dir_ / "works.log")), 0) << ReadText(dir_ / "works.log");
  std::map<std::string, int64_t> pages_by_work;
  for (const std::string& line : testing::Lines(ReadText(dir_ / "works.log"))) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) pages_by_work[j.value("work", "")] = j.value("units", int64_t{-1});
  }
  EXPECT_EQ(pages_by_work, (std::map<std::string, int64_t>{{"work-a", 4}, {"work-b", 4}}));

  // A third machine with an empty cache scans.
  auto verdicts = Scan(dir_ / "node3", true, dir_ / "q", dir_ / "scan.log");
  ASSERT_EQ(verdicts.size(), 3u) << ReadText(dir_ / "scan.log");
  EXPECT_EQ(verdicts["copy_a.jpg"].first, "match");
  EXPECT_EQ(verdicts["copy_a.jpg"].second, std::set<std::string>{"work-a"});
  EXPECT_EQ(verdicts["copy_b.jpg"].first, "match");
  EXPECT_EQ(verdicts["copy_b.jpg"].second, std::set<std::string>{"work-b"});
  EXPECT_EQ(verdicts["decoy.jpg"].first, "no_match");

  // Registering the same files again adds nothing (idempotent by content).
  EXPECT_EQ(Register(dir_ / "node1", true, "work-a", dir_ / "a", dir_ / "ra2.log"), 0);
  EXPECT_NE(ReadText(dir_ / "ra2.log").find("4 files already registered"), std::string::npos)
      << ReadText(dir_ / "ra2.log");
  EXPECT_EQ((*pg)->UnitCount(), 8);
}

// A PostgreSQL catalog registered before the colour check (its pages' blobs
// of version 2: the signature's 4 bytes cut, the version byte 2) gets the
// signatures back from `register` run again from any machine: each page's
// blob is again byte for byte what registration stored, and a third run
// skips the files.
TEST_F(PgCatalogTest, RegisterAgainGivesColourlessPagesTheirColourSignatures) {
  WritePages(dir_ / "a", 7500, 3);
  auto register_json = [&](const fs::path& data, const std::string& name) {
    std::vector<std::string> args = Kagami(data, true);
    args.insert(args.end(),
                {"register", "--work", "work-a", "--title", "A", "--json", (dir_ / "a").string()});
    const fs::path log = dir_ / (name + ".log");
    EXPECT_EQ(Wait(Spawn({"sh", "-c",
                          [&] {
                            std::string cmd;
                            for (const std::string& a : args) cmd += "'" + a + "' ";
                            return cmd + "2>/dev/null";
                          }()},
                         log)),
              0)
        << ReadText(log);
    return nlohmann::json::parse(ReadText(log), nullptr, false);
  };
  auto stored_blobs = [&]() {
    std::map<int64_t, std::vector<uint8_t>> blobs;
    auto pg = index::OpenPgCatalog(conninfo_);
    EXPECT_TRUE(pg.ok()) << pg.status().ToString();
    if (!pg.ok()) return blobs;
    EXPECT_TRUE((*pg)
                    ->ForEachLocalFeatures(
                        [&](int64_t id, const std::vector<uint8_t>& blob) { blobs[id] = blob; })
                    .ok());
    return blobs;
  };
  ASSERT_FALSE(register_json(dir_ / "node1", "first").is_discarded());
  const std::map<int64_t, std::vector<uint8_t>> registered = stored_blobs();
  ASSERT_EQ(registered.size(), 3u);
  for (const auto& [id, blob] : registered) {
    ASSERT_FALSE(fingerprint::LacksColourSignature(blob)) << id;
    ASSERT_EQ(blob[3], 3) << id;
  }
  {
    auto db = store::PgConnection::Connect(conninfo_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto downgraded = (*db)->Exec(
        "UPDATE units SET local_features = set_byte(substring(local_features from 1 for "
        "length(local_features) - 4), 3, 2)");
    ASSERT_TRUE(downgraded.ok()) << downgraded.status().ToString();
  }
  for (const auto& [id, blob] : stored_blobs()) {
    EXPECT_TRUE(fingerprint::LacksColourSignature(blob)) << id;
  }

  nlohmann::json again = register_json(dir_ / "node2", "again");
  ASSERT_FALSE(again.is_discarded());
  EXPECT_EQ(again["assets_backfilled"], 3) << again.dump();
  EXPECT_EQ(again["units_colour_backfilled"], 3) << again.dump();
  EXPECT_EQ(again["units_backfilled"], 0) << again.dump();
  EXPECT_EQ(again["assets_added"], 0) << again.dump();
  EXPECT_EQ(stored_blobs(), registered);

  nlohmann::json third = register_json(dir_ / "node1", "third");
  ASSERT_FALSE(third.is_discarded());
  EXPECT_EQ(third["assets_skipped"], 3) << third.dump();
  EXPECT_EQ(third["assets_backfilled"], 0) << third.dump();
}

TEST_F(PgCatalogTest, SqliteAndPostgresStoresGiveTheSameScanVerdicts) {
  WritePages(dir_ / "a", 7300, 3);
  WriteCopy(dir_ / "q" / "copy.jpg", 7301);
  WriteCopy(dir_ / "q" / "decoy.jpg", 7998);
  ASSERT_EQ(Register(dir_ / "lite", false, "work-a", dir_ / "a", dir_ / "r1.log"), 0);
  ASSERT_EQ(Register(dir_ / "pgnode", true, "work-a", dir_ / "a", dir_ / "r2.log"), 0);
  // The summary lines are the same on both backends.
  EXPECT_EQ(testing::Lines(ReadText(dir_ / "r1.log")).back(),
            testing::Lines(ReadText(dir_ / "r2.log")).back());
  auto lite = Scan(dir_ / "lite", false, dir_ / "q", dir_ / "s1.log");
  auto pg = Scan(dir_ / "pgnode", true, dir_ / "q", dir_ / "s2.log");
  EXPECT_EQ(lite, pg);
  EXPECT_EQ(pg["copy.jpg"].first, "match");
  EXPECT_EQ(pg["decoy.jpg"].first, "no_match");
  // The PostgreSQL node keeps its index cache apart from an embedded store.
  EXPECT_TRUE(fs::exists(dir_ / "pgnode" / index::Store::kSharedIndexFileName));
  EXPECT_FALSE(fs::exists(dir_ / "pgnode" / index::Store::kCatalogFileName));
}

TEST_F(PgCatalogTest, NodeRefreshesItsIndexFromPagesRegisteredElsewhereWithoutRebuild) {
  WritePages(dir_ / "a", 7400, 3);
  WritePages(dir_ / "b", 7500, 2);
  ASSERT_EQ(Register(dir_ / "reg", true, "work-a", dir_ / "a", dir_ / "ra.log"), 0)
      << ReadText(dir_ / "ra.log");

  // A long-lived scanning node (as a crawl worker holds it).
  const index::StoreOpenOptions options = ScanningNodeOptions();
  auto store = index::Store::Open(dir_ / "node", nullptr, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->full_rebuilds(), 1);  // a new cache is built once
  EXPECT_EQ((*store)->last_refresh().units_read, 3);
  const int64_t first_mark = (*store)->last_refresh().high_water;
  pipeline::ScanOptions scan_options;
  scan_options.extract.threads = 2;
  scan_options.refresh_interval = std::chrono::hours(1);  // refreshed explicitly below
  auto scanner_ptr = std::make_unique<pipeline::Scanner>(**store, scan_options);
  pipeline::Scanner& scanner = *scanner_ptr;

  auto scan_one = [&](const fs::path& path) {
    std::set<std::string> works;
    scanner.ScanPaths({path.string()}, [&](const pipeline::VolumeReport& r) {
      for (const auto& w : r.works)
        if (w.tally.matched) works.insert(w.tally.work_id);
    });
    return works;
  };
  WriteCopy(dir_ / "q" / "copy_b.jpg", 7501);
  EXPECT_TRUE(scan_one(dir_ / "q" / "copy_b.jpg").empty());  // not registered yet

  // Another process registers work B.
  ASSERT_EQ(Register(dir_ / "reg2", true, "work-b", dir_ / "b", dir_ / "rb.log"), 0)
      << ReadText(dir_ / "rb.log");
  auto refresh = scanner.Refresh();
  ASSERT_TRUE(refresh.ok()) << refresh.status().ToString();
  EXPECT_FALSE(refresh->full_rebuild);
  EXPECT_EQ(refresh->units_read, 2);  // only the new pages were read
  EXPECT_GT(refresh->high_water, first_mark);
  EXPECT_EQ((*store)->full_rebuilds(), 1);  // no rebuild since the first load
  EXPECT_EQ(scanner.refreshes_with_new_units(), 1);
  EXPECT_EQ(scan_one(dir_ / "q" / "copy_b.jpg"), std::set<std::string>{"work-b"});
  // Nothing new: a refresh reads nothing.
  auto idle = scanner.Refresh();
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle->units_read, 0);
  scanner_ptr.reset();
  store->reset();

  // Reopening the node's cache reads only what is above its saved mark (the
  // cache was saved at the first open, before work B).
  bool rebuilt = true;
  auto reopened = index::Store::Open(dir_ / "node", &rebuilt, options);
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(rebuilt);
  EXPECT_EQ((*reopened)->full_rebuilds(), 0);
  EXPECT_FALSE((*reopened)->last_refresh().full_rebuild);
  EXPECT_EQ((*reopened)->last_refresh().units_read, 2);
  auto stats = (*reopened)->catalog().GetIndexStats(index::Store::kMinIndexQuality);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ((*reopened)->pdq_index().size(), stats->count);
  reopened->reset();

  // A cache made for another catalog is never reused.
  ASSERT_EQ(server_->CreateDatabase("other_catalog"), "");
  index::StoreOpenOptions other = options;
  other.catalog_conninfo = server_->Conninfo("other_catalog");
  auto foreign = index::Store::Open(dir_ / "node", nullptr, other);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ((*foreign)->full_rebuilds(), 1);
  EXPECT_EQ((*foreign)->pdq_index().size(), 0);
}

TEST_F(PgCatalogTest, StoreMigrateCopiesTheCatalogVerifiedAndIdempotent) {
  WritePages(dir_ / "a", 7600, 3);
  WritePages(dir_ / "b", 7700, 2);
  fs::path lite = dir_ / "lite";
  ASSERT_EQ(Register(lite, false, "work-a", dir_ / "a", dir_ / "r1.log"), 0);
  ASSERT_EQ(Register(lite, false, "work-b", dir_ / "b", dir_ / "r2.log"), 0);
  std::vector<std::string> migrate = {KAGAMI_BINARY, "store", "migrate", "--from",
                                      lite.string(), "--to",  conninfo_};
  ASSERT_EQ(Wait(Spawn(migrate, dir_ / "m1.log")), 0) << ReadText(dir_ / "m1.log");
  std::string first = ReadText(dir_ / "m1.log");
  EXPECT_NE(first.find("5 page files (5 copied, 0 already there), 5 pages verified"),
            std::string::npos)
      << first;
  // Rerun: nothing copied, the same digest verified.
  ASSERT_EQ(Wait(Spawn(migrate, dir_ / "m2.log")), 0) << ReadText(dir_ / "m2.log");
  std::string second = ReadText(dir_ / "m2.log");
  EXPECT_NE(second.find("(0 copied, 5 already there)"), std::string::npos) << second;
  auto digest = [](const std::string& s) {
    size_t at = s.find("content digest ");
    return at == std::string::npos ? std::string() : s.substr(at + 15, 64);
  };
  EXPECT_EQ(digest(first).size(), 64u);
  EXPECT_EQ(digest(first), digest(second));

  // Both catalogs hold the same works and byte-identical assets.
  auto src = Catalog::Open(lite / index::Store::kCatalogFileName);
  auto dst = index::OpenPgCatalog(conninfo_);
  ASSERT_TRUE(src.ok() && dst.ok());
  auto src_works = (*src)->ListWorks();
  auto dst_works = (*dst)->ListWorks();
  ASSERT_TRUE(src_works.ok() && dst_works.ok());
  ASSERT_EQ(src_works->size(), dst_works->size());
  for (size_t i = 0; i < src_works->size(); ++i) {
    EXPECT_EQ((*src_works)[i].work.id, (*dst_works)[i].work.id);
    EXPECT_EQ((*src_works)[i].units, (*dst_works)[i].units);
  }
  auto shas = (*src)->ListPageAssetSha256s();
  ASSERT_TRUE(shas.ok());
  EXPECT_EQ(*shas, *(*dst)->ListPageAssetSha256s());
  for (const std::string& sha : *shas) {
    EXPECT_EQ(index::AssetDigest(**(*src)->GetAssetContent(sha)),
              index::AssetDigest(**(*dst)->GetAssetContent(sha)));
  }

  // A copy that differs is caught: tamper with one page in PostgreSQL.
  ASSERT_EQ(Wait(Spawn({"psql", "-q", conninfo_, "-c",
                        "UPDATE units SET member = member || 'x' WHERE id = (SELECT min(id) FROM "
                        "units)"},
                       dir_ / "psql.log")),
            0)
      << ReadText(dir_ / "psql.log");
  EXPECT_EQ(Wait(Spawn(migrate, dir_ / "m3.log")), 2) << ReadText(dir_ / "m3.log");
  EXPECT_NE(ReadText(dir_ / "m3.log").find("differs in PostgreSQL"), std::string::npos);

  // And the migrated catalog serves a scan.
  WriteCopy(dir_ / "q" / "copy.jpg", 7701);
  auto verdicts = Scan(dir_ / "node", true, dir_ / "q", dir_ / "scan.log");
  EXPECT_EQ(verdicts["copy.jpg"].second, std::set<std::string>{"work-b"});
}

TEST_F(PgCatalogTest, ALongLivedScannerIsWokenByTheCatalogsNotificationBeforeItsPoll) {
  WritePages(dir_ / "a", 7980, 1);
  WritePages(dir_ / "b", 7990, 2);
  ASSERT_EQ(Register(dir_ / "reg", true, "work-a", dir_ / "a", dir_ / "ra.log"), 0)
      << ReadText(dir_ / "ra.log");
  const index::StoreOpenOptions options = ScanningNodeOptions();
  auto store = index::Store::Open(dir_ / "node", nullptr, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  pipeline::ScanOptions scan_options;
  scan_options.extract.threads = 2;
  scan_options.refresh_interval = std::chrono::hours(1);  // the poll never fires in this test
  pipeline::Scanner scanner(**store, scan_options);
  auto scan_one = [&](const fs::path& path) {
    std::set<std::string> works;
    scanner.ScanPaths({path.string()}, [&](const pipeline::VolumeReport& r) {
      for (const auto& w : r.works)
        if (w.tally.matched) works.insert(w.tally.work_id);
    });
    return works;
  };
  WriteCopy(dir_ / "q" / "copy_b.jpg", 7991);
  EXPECT_TRUE(scan_one(dir_ / "q" / "copy_b.jpg").empty());
  const int64_t refreshes = scanner.refreshes_with_new_units();
  ASSERT_EQ(Register(dir_ / "reg2", true, "work-b", dir_ / "b", dir_ / "rb.log"), 0)
      << ReadText(dir_ / "rb.log");
  // The NOTIFY sent at the registration's commit wakes the next batch's
  // refresh (it may take a moment to arrive on the listening connection).
  std::set<std::string> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    found = scan_one(dir_ / "q" / "copy_b.jpg");
    if (found.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(found, std::set<std::string>{"work-b"});
  EXPECT_EQ(scanner.refreshes_with_new_units(), refreshes + 1);
  EXPECT_EQ((*store)->full_rebuilds(), 1);   // the first load only
  EXPECT_FALSE((*store)->CatalogChanged());  // consumed
}

// --- Video on the shared store ---------------------------------------------

// A 12 s generated clip (no audio): a Mandelbrot zoom (`kind` 0) or a
// cellular automaton (1); `copy` re-encodes it smaller at a lower quality, as
// a pirate upload would be.
void WriteClip(const fs::path& path, int kind, const fs::path& log) {
  fs::create_directories(path.parent_path());
  std::string source = kind == 0
                           ? "mandelbrot=s=320x180:rate=25:end_pts=6000:inner=mincol:"
                             "start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=2"
                           : "life=s=320x180:rate=4:mold=10:ratio=0.1:seed=7:death_color=#C83232:"
                             "life_color=#00ff00,fps=25";
  ASSERT_EQ(
      Wait(Spawn({"ffmpeg",  "-nostdin",  "-v",   "error", "-y",       "-f",      "lavfi",
                  "-i",      source,      "-t",   "12",    "-an",      "-c:v",    "libx264",
                  "-preset", "ultrafast", "-crf", "24",    "-pix_fmt", "yuv420p", path.string()},
                 log)),
      0)
      << ReadText(log);
}

void WriteCopyOfClip(const fs::path& original, const fs::path& copy, const fs::path& log) {
  fs::create_directories(copy.parent_path());
  ASSERT_EQ(Wait(Spawn({"ffmpeg", "-nostdin", "-v", "error", "-y", "-i", original.string(), "-vf",
                        "scale=240:136", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32",
                        "-pix_fmt", "yuv420p", copy.string()},
                       log)),
            0)
      << ReadText(log);
}

TEST_F(PgCatalogTest, AVideoRegisteredOnOneNodeIsFoundFromAnotherAndLaterOnesAreReadIncrementally) {
  // Node 1 registers pages and a video of work A in one run.
  WritePages(dir_ / "in_a", 7800, 2);
  WriteClip(dir_ / "in_a" / "a.mp4", 0, dir_ / "ffmpeg.log");
  WriteClip(dir_ / "in_b" / "b.mp4", 1, dir_ / "ffmpeg.log");
  WriteCopyOfClip(dir_ / "in_a" / "a.mp4", dir_ / "qa" / "copy_a.mp4", dir_ / "ffmpeg.log");
  WriteCopyOfClip(dir_ / "in_b" / "b.mp4", dir_ / "qb" / "copy_b.mp4", dir_ / "ffmpeg.log");
  ASSERT_EQ(Register(dir_ / "node1", true, "work-a", dir_ / "in_a", dir_ / "r1.log"), 0)
      << ReadText(dir_ / "r1.log");
  std::string log = ReadText(dir_ / "r1.log");
  EXPECT_NE(log.find("from 3 files, 0 files already registered, 0 errors"), std::string::npos)
      << log;  // 2 pages + 1 video
  EXPECT_FALSE(fs::exists(dir_ / "node1" / index::Store::kCatalogFileName));
  auto videos = index::OpenPgVideoCatalog(conninfo_);
  ASSERT_TRUE(videos.ok()) << videos.status().ToString();
  auto shas = (*videos)->ListVideoAssetSha256s();
  ASSERT_TRUE(shas.ok());
  ASSERT_EQ(shas->size(), 1u);
  auto pg = index::OpenPgCatalog(conninfo_);
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ((*pg)->ListPageAssetSha256s()->size(), 2u);  // the video is not a page asset
  EXPECT_TRUE((*pg)->CheckIntegrity().ok());

  // Node 2 (its own data directory, empty cache) scans a copy: found.
  auto found_a = Scan(dir_ / "node2", true, dir_ / "qa", dir_ / "s1.log");
  EXPECT_EQ(found_a["copy_a.mp4"].first, "match") << ReadText(dir_ / "s1.log");
  EXPECT_EQ(found_a["copy_a.mp4"].second, std::set<std::string>{"work-a"});
  // Work B is not registered yet: its copy matches nothing.
  auto before_b = Scan(dir_ / "node2", true, dir_ / "qb", dir_ / "s2.log");
  EXPECT_EQ(before_b["copy_b.mp4"].first, "no_match") << ReadText(dir_ / "s2.log");
  EXPECT_TRUE(fs::exists(dir_ / "node2" / index::VideoStore::kSharedIndexFileName));
  EXPECT_TRUE(fs::exists(dir_ / "node2" / index::VideoStore::kSharedMapFileName));

  // A long-lived process on node 2: its cache is current, nothing to read.
  index::VideoStoreOptions options;
  options.catalog_conninfo = conninfo_;
  auto node2 = index::VideoStore::Open(dir_ / "node2", options);
  ASSERT_TRUE(node2.ok()) << node2.status().ToString();
  EXPECT_EQ((*node2)->full_rebuilds(), 0);
  EXPECT_EQ((*node2)->last_refresh().frames_read, 0);
  const int64_t size_a = (*node2)->frame_index().size();
  EXPECT_GT(size_a, 0);

  // Node 3 registers work B meanwhile.
  ASSERT_EQ(Register(dir_ / "node3", true, "work-b", dir_ / "in_b", dir_ / "r3.log"), 0)
      << ReadText(dir_ / "r3.log");
  shas = (*videos)->ListVideoAssetSha256s();
  ASSERT_TRUE(shas.ok());
  ASSERT_EQ(shas->size(), 2u);
  int64_t frames_b = 0;
  for (const std::string& sha : *shas) {
    auto v = (*videos)->GetVideoAsset(sha);
    ASSERT_TRUE(v.ok() && v->has_value());
    if ((*v)->asset.work_id == "work-b") frames_b = static_cast<int64_t>((*v)->frames.size());
  }
  ASSERT_GT(frames_b, 0);
  // The long-lived process reads B's frames only.
  auto refresh = (*node2)->Refresh();
  ASSERT_TRUE(refresh.ok()) << refresh.status().ToString();
  EXPECT_FALSE(refresh->full_rebuild);
  EXPECT_EQ(refresh->frames_read, frames_b);
  EXPECT_GT((*node2)->frame_index().size(), size_a);
  EXPECT_EQ((*node2)->full_rebuilds(), 0);
  node2->reset();  // not saved: the cache on disk still ends before B

  // Node 2 restarted: it loads its cache and reads B's frames only.
  auto reopened = index::VideoStore::Open(dir_ / "node2", options);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->full_rebuilds(), 0);
  EXPECT_EQ((*reopened)->last_refresh().frames_read, frames_b);
  reopened->reset();
  auto found_b = Scan(dir_ / "node2", true, dir_ / "qb", dir_ / "s3.log");
  EXPECT_EQ(found_b["copy_b.mp4"].first, "match") << ReadText(dir_ / "s3.log");
  EXPECT_EQ(found_b["copy_b.mp4"].second, std::set<std::string>{"work-b"});
  auto again_a = Scan(dir_ / "node2", true, dir_ / "qa", dir_ / "s4.log");
  EXPECT_EQ(again_a["copy_a.mp4"].second, std::set<std::string>{"work-a"});

  // Registering the same video again, from any node, adds nothing.
  ASSERT_EQ(Register(dir_ / "node4", true, "work-b", dir_ / "in_b", dir_ / "r4.log"), 0);
  EXPECT_NE(ReadText(dir_ / "r4.log").find("1 files already registered"), std::string::npos)
      << ReadText(dir_ / "r4.log");

  // A cache made for another catalog is never reused.
  ASSERT_EQ(server_->CreateDatabase("other_videos"), "");
  index::VideoStoreOptions other = options;
  other.catalog_conninfo = server_->Conninfo("other_videos");
  auto foreign = index::VideoStore::Open(dir_ / "node2", other);
  ASSERT_TRUE(foreign.ok()) << foreign.status().ToString();
  EXPECT_EQ((*foreign)->full_rebuilds(), 1);
  EXPECT_EQ((*foreign)->frame_index().size(), 0);
}

TEST_F(PgCatalogTest, StoreMigrateCopiesVideosVerifiedAndIdempotent) {
  WritePages(dir_ / "in", 7850, 1);
  WriteClip(dir_ / "in" / "a.mp4", 0, dir_ / "ffmpeg.log");
  WriteCopyOfClip(dir_ / "in" / "a.mp4", dir_ / "q" / "copy_a.mp4", dir_ / "ffmpeg.log");
  fs::path lite = dir_ / "lite";
  ASSERT_EQ(Register(lite, false, "work-v", dir_ / "in", dir_ / "r.log"), 0)
      << ReadText(dir_ / "r.log");
  std::vector<std::string> migrate = {KAGAMI_BINARY, "store", "migrate", "--from",
                                      lite.string(), "--to",  conninfo_};
  ASSERT_EQ(Wait(Spawn(migrate, dir_ / "m1.log")), 0) << ReadText(dir_ / "m1.log");
  std::string first = ReadText(dir_ / "m1.log");
  EXPECT_NE(first.find("1 page files (1 copied"), std::string::npos) << first;
  EXPECT_NE(first.find("1 video files (1 copied, 0 already there)"), std::string::npos) << first;
  ASSERT_EQ(Wait(Spawn(migrate, dir_ / "m2.log")), 0) << ReadText(dir_ / "m2.log");
  std::string second = ReadText(dir_ / "m2.log");
  EXPECT_NE(second.find("1 video files (0 copied, 1 already there)"), std::string::npos) << second;

  // Byte-identical in both backends: asset, frames, hashes, audio.
  auto src = index::OpenSqliteVideoCatalog(lite / index::Store::kCatalogFileName);
  auto dst = index::OpenPgVideoCatalog(conninfo_);
  ASSERT_TRUE(src.ok() && dst.ok());
  auto shas = (*src)->ListVideoAssetSha256s();
  ASSERT_TRUE(shas.ok());
  ASSERT_EQ(shas->size(), 1u);
  EXPECT_EQ(*shas, *(*dst)->ListVideoAssetSha256s());
  auto a = (*src)->GetVideoAsset((*shas)[0]);
  auto b = (*dst)->GetVideoAsset((*shas)[0]);
  ASSERT_TRUE(a.ok() && b.ok() && a->has_value() && b->has_value());
  EXPECT_GT((*a)->frames.size(), 10u);
  EXPECT_EQ(index::VideoAssetDigest(**a), index::VideoAssetDigest(**b));

  // A copy that differs is caught.
  ASSERT_EQ(Wait(Spawn({"psql", "-q", conninfo_, "-c",
                        "UPDATE video_frames SET t = t + 0.5 WHERE id = (SELECT max(id) FROM "
                        "video_frames)"},
                       dir_ / "psql.log")),
            0)
      << ReadText(dir_ / "psql.log");
  EXPECT_EQ(Wait(Spawn(migrate, dir_ / "m3.log")), 2) << ReadText(dir_ / "m3.log");
  EXPECT_NE(ReadText(dir_ / "m3.log").find("differs in PostgreSQL"), std::string::npos);

  // The migrated video is found from a node of the shared store.
  auto verdicts = Scan(dir_ / "node", true, dir_ / "q", dir_ / "scan.log");
  EXPECT_EQ(verdicts["copy_a.mp4"].second, std::set<std::string>{"work-v"})
      << ReadText(dir_ / "scan.log");
}

// --- A restarted scanning node's local index ---------------------------------

TEST_F(PgCatalogTest, RestartedNodeLoadsItsLocalIndexCacheAndReadsOnlyPagesRegisteredMeanwhile) {
  WritePages(dir_ / "a", 7900, 3);
  WritePages(dir_ / "b", 7950, 2);
  WritePages(dir_ / "c", 7970, 1);
  ASSERT_EQ(Register(dir_ / "reg", true, "work-a", dir_ / "a", dir_ / "ra.log"), 0)
      << ReadText(dir_ / "ra.log");
  const index::StoreOpenOptions options = ScanningNodeOptions();
  const fs::path cache = dir_ / "node" / "local-shared.index";
  auto pages_in_file = [&] {
    auto header = index::InvertedFile::ReadHeader(cache);
    return header.ok() ? header->pages : -1;
  };
  {
    auto store = index::Store::Open(dir_ / "node", nullptr, options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto local = (*store)->LocalIndex();
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    EXPECT_TRUE((*store)->last_local_load().full_rebuild);  // no cache yet
    EXPECT_EQ((*store)->last_local_load().units_read, 3);
    EXPECT_EQ((*local)->pages(), 3);
    EXPECT_EQ(pages_in_file(), 3);
  }
  // The node is down while work B is registered elsewhere.
  ASSERT_EQ(Register(dir_ / "reg2", true, "work-b", dir_ / "b", dir_ / "rb.log"), 0)
      << ReadText(dir_ / "rb.log");
  {
    auto store = index::Store::Open(dir_ / "node", nullptr, options);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ((*store)->last_refresh().units_read, 2);  // the PDQ index: only B's pages
    auto local = (*store)->LocalIndex();
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    EXPECT_FALSE((*store)->last_local_load().full_rebuild);
    EXPECT_EQ((*store)->last_local_load().units_read, 2);  // the local index: only B's pages
    EXPECT_EQ((*local)->pages(), 5);
    EXPECT_EQ(pages_in_file(), 5);  // appended to the cache

    // Work C while this node runs: its refresh appends C to the cache too.
    ASSERT_EQ(Register(dir_ / "reg3", true, "work-c", dir_ / "c", dir_ / "rc.log"), 0)
        << ReadText(dir_ / "rc.log");
    auto refresh = (*store)->Refresh();
    ASSERT_TRUE(refresh.ok());
    EXPECT_EQ(refresh->units_read, 1);
    EXPECT_EQ((*local)->pages(), 6);
    EXPECT_EQ(pages_in_file(), 6);
  }
  {
    auto store = index::Store::Open(dir_ / "node", nullptr, options);
    ASSERT_TRUE(store.ok());
    auto local = (*store)->LocalIndex();
    ASSERT_TRUE(local.ok());
    EXPECT_FALSE((*store)->last_local_load().full_rebuild);
    EXPECT_EQ((*store)->last_local_load().units_read, 0);
    EXPECT_EQ((*local)->pages(), 6);
  }
  // The loaded-and-appended index equals one built from scratch.
  auto rebuilt = index::InvertedFile::Load(cache);
  ASSERT_TRUE(rebuilt.ok());
  fs::remove(cache);
  {
    auto store = index::Store::Open(dir_ / "node", nullptr, options);
    ASSERT_TRUE(store.ok());
    auto local = (*store)->LocalIndex();
    ASSERT_TRUE(local.ok());
    EXPECT_TRUE((*store)->last_local_load().full_rebuild);
    EXPECT_EQ((*store)->last_local_load().units_read, 6);
    EXPECT_EQ((*local)->keypoints(), (*rebuilt)->keypoints());
    EXPECT_EQ((*local)->max_unit_id(), (*rebuilt)->max_unit_id());
  }
  // A cache made for another catalog is never reused.
  ASSERT_EQ(server_->CreateDatabase("other_local"), "");
  index::StoreOpenOptions other = options;
  other.catalog_conninfo = server_->Conninfo("other_local");
  auto foreign = index::Store::Open(dir_ / "node", nullptr, other);
  ASSERT_TRUE(foreign.ok());
  auto local = (*foreign)->LocalIndex();
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE((*foreign)->last_local_load().full_rebuild);
  EXPECT_EQ((*local)->pages(), 0);
}

}  // namespace
}  // namespace kagami
