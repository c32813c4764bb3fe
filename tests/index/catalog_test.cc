#include "kagami/index/catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sqlite_db.h"

namespace kagami::index {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("kagami_catalog_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = dir_ / "catalog.sqlite";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Catalog> OpenOrDie() {
    auto catalog = Catalog::Open(db_path_);
    EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
    return catalog.ok() ? std::move(*catalog) : nullptr;
  }

  fs::path dir_;
  fs::path db_path_;
};

Work MakeWork(const std::string& id) {
  Work work;
  work.id = id;
  work.title = "Title of " + id;
  work.rights_holder = "Holder Inc.";
  work.kind = WorkKind::kManga;
  return work;
}

std::string Sha(int n) {
  static const char kHex[] = "0123456789abcdef";
  std::string sha(64, '0');
  for (int i = 0; i < 8; ++i) sha[63 - i] = kHex[(n >> (4 * i)) & 15];
  return sha;
}

AssetRecord MakeAsset(const std::string& work_id, int n) {
  AssetRecord asset;
  asset.work_id = work_id;
  asset.path = "/library/" + work_id + "/vol" + std::to_string(n) + ".cbz";
  asset.sha256_hex = Sha(n);
  asset.size_bytes = 1000 + n;
  asset.media_type = "application/vnd.comicbook+zip";
  return asset;
}

std::vector<UnitRecord> MakeUnits(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<UnitRecord> units(count);
  for (int i = 0; i < count; ++i) {
    units[i].page_index = i;
    units[i].member = "p" + std::to_string(i) + ".jpg";
    for (auto& b : units[i].pdq.bytes) b = static_cast<uint8_t>(rng());
    units[i].quality = 100;
  }
  return units;
}

TEST(WorkKindTest, NamesRoundTrip) {
  for (WorkKind kind : {WorkKind::kManga, WorkKind::kAnime, WorkKind::kFilm, WorkKind::kOther}) {
    auto parsed = ParseWorkKind(WorkKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(WorkKindName(WorkKind::kAnime), "anime");
  auto bad = ParseWorkKind("comic");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("comic"));
}

TEST_F(CatalogTest, CreatesSchemaAndReopens) {
  {
    auto catalog = OpenOrDie();
    ASSERT_NE(catalog, nullptr);
    EXPECT_EQ(catalog->UnitCount(), 0);
    EXPECT_EQ(catalog->MaxUnitId(), 0);
    ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  }
  auto catalog = OpenOrDie();
  ASSERT_NE(catalog, nullptr);
  auto work = catalog->GetWork("w1");
  ASSERT_TRUE(work.ok());
  ASSERT_TRUE(work->has_value());
  EXPECT_EQ((*work)->title, "Title of w1");
  EXPECT_TRUE(catalog->CheckIntegrity().ok());
}

TEST_F(CatalogTest, UsesWalJournal) {
  auto catalog = OpenOrDie();
  ASSERT_NE(catalog, nullptr);
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  EXPECT_TRUE(fs::exists(dir_ / "catalog.sqlite-wal"));
}

TEST_F(CatalogTest, GetWorkOfUnknownIdIsEmpty) {
  auto catalog = OpenOrDie();
  auto work = catalog->GetWork("nope");
  ASSERT_TRUE(work.ok());
  EXPECT_FALSE(work->has_value());
}

TEST_F(CatalogTest, UpsertWorkUpdatesFieldsAndIdentifiersRoundTrip) {
  auto catalog = OpenOrDie();
  Work work = MakeWork("onepiece-v001");
  work.identifiers = {{"isbn", "978-4-08-872509-3"}, {"note", "quote \" and \\ and \xc3\xa9"}};
  ASSERT_TRUE(catalog->UpsertWork(work).ok());

  auto got = catalog->GetWork(work.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->identifiers, work.identifiers);
  EXPECT_EQ((*got)->kind, WorkKind::kManga);

  work.title = "New title";
  work.rights_holder = "Other holder";
  work.kind = WorkKind::kAnime;
  work.identifiers = {{"anidb", "69"}};
  ASSERT_TRUE(catalog->UpsertWork(work).ok());
  got = catalog->GetWork(work.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->title, "New title");
  EXPECT_EQ((*got)->rights_holder, "Other holder");
  EXPECT_EQ((*got)->kind, WorkKind::kAnime);
  EXPECT_EQ((*got)->identifiers, work.identifiers);

  auto works = catalog->ListWorks();
  ASSERT_TRUE(works.ok());
  EXPECT_EQ(works->size(), 1u);
}

TEST_F(CatalogTest, UpsertWorkRejectsEmptyIdAndInvalidUtf8Identifiers) {
  auto catalog = OpenOrDie();
  EXPECT_EQ(catalog->UpsertWork(MakeWork("")).code(), StatusCode::kInvalidArgument);
  Work work = MakeWork("w");
  work.identifiers = {{"isbn", "\xff\xfe"}};
  EXPECT_EQ(catalog->UpsertWork(work).code(), StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, AddAssetIsFoundBySha256AndIsIdempotent) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  AssetRecord asset = MakeAsset("w1", 1);
  auto before = catalog->FindAssetBySha256(asset.sha256_hex);
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value());

  std::vector<int64_t> unit_ids;
  auto id = catalog->AddAsset(asset, MakeUnits(5, 1), &unit_ids);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_EQ(unit_ids.size(), 5u);
  for (size_t i = 1; i < unit_ids.size(); ++i) EXPECT_GT(unit_ids[i], unit_ids[i - 1]);

  auto found = catalog->FindAssetBySha256(asset.sha256_hex);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(**found, *id);
  // Hex case does not matter.
  std::string upper = asset.sha256_hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  found = catalog->FindAssetBySha256(upper);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ(**found, *id);
  auto work = catalog->FindAssetWork(upper);
  ASSERT_TRUE(work.ok() && work->has_value());
  EXPECT_EQ(**work, "w1");
  auto other = catalog->FindAssetWork(MakeAsset("w1", 2).sha256_hex);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());

  auto again = catalog->AddAsset(asset, MakeUnits(5, 2));
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(again.status().message(), HasSubstr("already registered"));
  EXPECT_EQ(catalog->UnitCount(), 5);
  EXPECT_EQ(catalog->MaxUnitId(), unit_ids.back());
}

TEST_F(CatalogTest, RejectsMalformedSha256) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  AssetRecord asset = MakeAsset("w1", 1);
  asset.sha256_hex = "xyz";
  EXPECT_EQ(catalog->AddAsset(asset, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog->FindAssetBySha256(std::string(64, 'g')).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog->FindAssetWork("xyz").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CatalogTest, ListWorksCountsAssetsAndUnits) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("b-work")).ok());
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("a-work")).ok());
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("c-empty")).ok());
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("a-work", 1), MakeUnits(3, 1)).ok());
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("a-work", 2), MakeUnits(4, 2)).ok());
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("b-work", 3), MakeUnits(10, 3)).ok());

  auto works = catalog->ListWorks();
  ASSERT_TRUE(works.ok()) << works.status().ToString();
  ASSERT_EQ(works->size(), 3u);
  EXPECT_EQ((*works)[0].work.id, "a-work");
  EXPECT_EQ((*works)[0].assets, 2);
  EXPECT_EQ((*works)[0].units, 7);
  EXPECT_EQ((*works)[1].work.id, "b-work");
  EXPECT_EQ((*works)[1].assets, 1);
  EXPECT_EQ((*works)[1].units, 10);
  EXPECT_EQ((*works)[2].work.id, "c-empty");
  EXPECT_EQ((*works)[2].assets, 0);
  EXPECT_EQ((*works)[2].units, 0);
  EXPECT_EQ(catalog->UnitCount(), 17);
}

TEST_F(CatalogTest, AddAssetForUnknownWorkLeavesNothingBehind) {
  auto catalog = OpenOrDie();
  AssetRecord asset = MakeAsset("ghost", 1);
  auto id = catalog->AddAsset(asset, MakeUnits(3, 1));
  EXPECT_EQ(id.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(id.status().message(), HasSubstr("ghost"));
  EXPECT_EQ(catalog->UnitCount(), 0);
  auto found = catalog->FindAssetBySha256(asset.sha256_hex);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(CatalogTest, AddAssetWithBadUnitRollsBackEverything) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("w1", 1), MakeUnits(2, 1)).ok());
  const int64_t max_before = catalog->MaxUnitId();

  // The third unit fails after the asset row and two units were inserted.
  std::vector<UnitRecord> units = MakeUnits(4, 2);
  units[2].quality = 150;
  AssetRecord asset = MakeAsset("w1", 2);
  auto id = catalog->AddAsset(asset, units);
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("unit 2"));

  EXPECT_EQ(catalog->UnitCount(), 2);
  EXPECT_EQ(catalog->MaxUnitId(), max_before);
  auto found = catalog->FindAssetBySha256(asset.sha256_hex);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  auto works = catalog->ListWorks();
  ASSERT_TRUE(works.ok());
  EXPECT_EQ((*works)[0].assets, 1);

  // The catalog is still usable: the same asset with good units goes in.
  units[2].quality = 90;
  ASSERT_TRUE(catalog->AddAsset(asset, units).ok());
  EXPECT_EQ(catalog->UnitCount(), 6);
  EXPECT_TRUE(catalog->CheckIntegrity().ok());
}

TEST_F(CatalogTest, RejectsOutOfRangeUnitFields) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  std::vector<UnitRecord> units = MakeUnits(1, 1);
  units[0].page_index = -1;
  EXPECT_EQ(catalog->AddAsset(MakeAsset("w1", 1), units).status().code(),
            StatusCode::kInvalidArgument);
  units = MakeUnits(1, 1);
  units[0].time_s = -2.5;
  EXPECT_EQ(catalog->AddAsset(MakeAsset("w1", 1), units).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog->UnitCount(), 0);
}

TEST_F(CatalogTest, UnitRefsHashesAndLocalFeaturesRoundTrip) {
  auto catalog = OpenOrDie();
  Work work = MakeWork("w1");
  work.title = "Sora no Kagami";
  ASSERT_TRUE(catalog->UpsertWork(work).ok());
  std::vector<UnitRecord> units = MakeUnits(3, 7);
  units[0].quality = 10;
  units[1].local_features = {1, 2, 3, 4, 5};
  units[2].time_s = 12.5;
  units[2].page_index = 2;
  AssetRecord asset = MakeAsset("w1", 1);
  std::vector<int64_t> ids;
  ASSERT_TRUE(catalog->AddAsset(asset, units, &ids).ok());

  auto ref = catalog->GetUnitRef(ids[1]);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(ref->unit_id, ids[1]);
  EXPECT_EQ(ref->work_id, "w1");
  EXPECT_EQ(ref->title, "Sora no Kagami");
  EXPECT_EQ(ref->asset_path, asset.path);
  EXPECT_EQ(ref->asset_sha256, asset.sha256_hex);
  EXPECT_EQ(ref->member, "p1.jpg");
  EXPECT_EQ(ref->page_index, 1);
  EXPECT_EQ(ref->quality, 100);
  EXPECT_EQ(ref->pdq, units[1].pdq);
  EXPECT_EQ(catalog->GetUnitRef(ids[2] + 100).status().code(), StatusCode::kNotFound);

  auto features = catalog->GetLocalFeatures(ids[1]);
  ASSERT_TRUE(features.ok());
  EXPECT_EQ(*features, units[1].local_features);
  features = catalog->GetLocalFeatures(ids[0]);
  ASSERT_TRUE(features.ok());
  EXPECT_TRUE(features->empty());

  std::vector<int64_t> with_features;
  ASSERT_TRUE(catalog
                  ->ForEachLocalFeatures([&](int64_t id, const std::vector<uint8_t>& blob) {
                    with_features.push_back(id);
                    EXPECT_EQ(blob, units[1].local_features);
                  })
                  .ok());
  EXPECT_EQ(with_features, std::vector<int64_t>{ids[1]});

  std::vector<int64_t> seen;
  ASSERT_TRUE(catalog
                  ->ForEachUnitHash([&](int64_t id, const fingerprint::Hash256& hash, int quality) {
                    size_t i = seen.size();
                    seen.push_back(id);
                    EXPECT_EQ(hash, units[i].pdq);
                    EXPECT_EQ(quality, units[i].quality);
                  })
                  .ok());
  EXPECT_EQ(seen, ids);

  auto stats = catalog->GetUnitStats(50);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 2);
  EXPECT_EQ(stats->max_unit_id, ids[2]);
}

TEST_F(CatalogTest, UnitRefsCarryTheTrimmedAndBlurredHashesWithTheirQualities) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  std::vector<UnitRecord> units = MakeUnits(2, 11);
  units[1].pdq_trimmed = units[0].pdq;
  units[1].trimmed_quality = 64;
  units[1].pdq_blurred = MakeUnits(1, 12)[0].pdq;
  units[1].blurred_quality = 81;
  std::vector<int64_t> ids;
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("w1", 1), units, &ids).ok());
  ASSERT_EQ(ids.size(), 2u);

  auto ref = catalog->GetUnitRef(ids[1]);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(ref->pdq_trimmed, units[1].pdq_trimmed);
  EXPECT_EQ(ref->trimmed_quality, 64);
  EXPECT_EQ(ref->pdq_blurred, units[1].pdq_blurred);
  EXPECT_EQ(ref->blurred_quality, 81);
  auto plain = catalog->GetUnitRef(ids[0]);  // registered without the other hashes
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->pdq_trimmed.has_value());
  EXPECT_EQ(plain->trimmed_quality, 0);
  EXPECT_FALSE(plain->pdq_blurred.has_value());
  EXPECT_EQ(plain->blurred_quality, 0);
}

TEST_F(CatalogTest, UnitIdsAreNeverReused) {
  auto catalog = OpenOrDie();
  ASSERT_TRUE(catalog->UpsertWork(MakeWork("w1")).ok());
  std::vector<int64_t> first;
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("w1", 1), MakeUnits(3, 1), &first).ok());
  catalog.reset();
  // Delete the rows behind the catalog's back; AUTOINCREMENT must still move on.
  {
    kagami::testing::SqliteDb db = kagami::testing::OpenSqlite(db_path_);
    ASSERT_NE(db, nullptr);
    sqlite3* raw = db.get();
    ASSERT_EQ(
        sqlite3_exec(raw, "DELETE FROM units; DELETE FROM assets;", nullptr, nullptr, nullptr),
        SQLITE_OK);
  }
  catalog = OpenOrDie();
  std::vector<int64_t> second;
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("w1", 2), MakeUnits(3, 2), &second).ok());
  EXPECT_GT(second.front(), first.back());
}

// A catalog of schema version 1 (before the blurred hash): opening it adds the
// columns, its units read back without one, and new units store theirs.
TEST_F(CatalogTest, OpensAVersion1CatalogAndAddsTheBlurredHash) {
  {
    kagami::testing::SqliteDb db = kagami::testing::OpenSqlite(db_path_);
    ASSERT_NE(db, nullptr);
    // Version 1's units table, as Kagami created it before.
    const char* kVersion1 = R"sql(
CREATE TABLE works (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL,
  rights_holder TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('manga', 'anime', 'film', 'other')),
  identifiers_json TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
CREATE TABLE assets (id INTEGER PRIMARY KEY, work_id TEXT NOT NULL REFERENCES works (id),
  path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE, size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  media_type TEXT NOT NULL, unit_count INTEGER NOT NULL CHECK (unit_count >= 0),
  created_at TEXT NOT NULL);
CREATE TABLE units (id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id INTEGER NOT NULL REFERENCES assets (id), page_index INTEGER NOT NULL CHECK (page_index >= 0),
  member TEXT NOT NULL, time_s REAL NOT NULL, pdq BLOB NOT NULL CHECK (length(pdq) = 32),
  quality INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100), local_features BLOB,
  pdq_trimmed BLOB CHECK (pdq_trimmed IS NULL OR length(pdq_trimmed) = 32),
  trimmed_quality INTEGER NOT NULL DEFAULT 0 CHECK (trimmed_quality BETWEEN 0 AND 100));
CREATE INDEX units_by_asset ON units (asset_id);
CREATE INDEX assets_by_work ON assets (work_id);
INSERT INTO works VALUES ('w1', 'Old', 'Holder', 'manga', '{}', '2026-01-01T00:00:00Z');
INSERT INTO assets VALUES (1, 'w1', '/old.cbz', ')sql";
    const std::string sql =
        std::string(kVersion1) + Sha(1) +
        "', 10, 'application/zip', 1, '2026-01-01T00:00:00Z');"
        "INSERT INTO units (asset_id, page_index, member, time_s, pdq, quality) "
        "VALUES (1, 0, 'p0.jpg', -1, zeroblob(32), 90);"
        "PRAGMA application_id = 1262964041; PRAGMA user_version = 1;";
    ASSERT_EQ(sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db.get());
  }
  auto catalog = OpenOrDie();
  ASSERT_NE(catalog, nullptr);
  auto old = catalog->GetAssetContent(Sha(1));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  ASSERT_TRUE(old->has_value());
  ASSERT_EQ((*old)->units.size(), 1u);
  EXPECT_FALSE((*old)->units[0].pdq_blurred.has_value());

  std::vector<UnitRecord> units = MakeUnits(1, 3);
  fingerprint::Hash256 blurred;
  blurred.bytes.fill(0x5a);
  units[0].pdq_blurred = blurred;
  units[0].blurred_quality = 80;
  std::vector<int64_t> ids;
  ASSERT_TRUE(catalog->AddAsset(MakeAsset("w1", 2), units, &ids).ok());
  auto content = catalog->GetAssetContent(Sha(2));
  ASSERT_TRUE(content.ok() && content->has_value());
  ASSERT_TRUE((*content)->units[0].pdq_blurred.has_value());
  EXPECT_EQ(*(*content)->units[0].pdq_blurred, blurred);
  EXPECT_EQ((*content)->units[0].blurred_quality, 80);
  // Both hashes of the new unit are indexed; the old unit has one.
  std::vector<std::pair<int64_t, int>> hashes;
  ASSERT_TRUE(catalog
                  ->ForEachUnitHash([&](int64_t id, const fingerprint::Hash256&, int quality) {
                    hashes.emplace_back(id, quality);
                  })
                  .ok());
  ASSERT_EQ(hashes.size(), 3u);
  EXPECT_EQ(hashes[1], std::make_pair(ids[0], 100));
  EXPECT_EQ(hashes[2], std::make_pair(ids[0], 80));
  auto stats = catalog->GetIndexStats(50, INT64_MAX);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 3);
  // Reopening finds version 2 and migrates nothing again.
  catalog.reset();
  EXPECT_NE(OpenOrDie(), nullptr);
}

TEST_F(CatalogTest, RejectsNonSqliteFile) {
  {
    std::ofstream out(db_path_, std::ios::binary);
    std::mt19937 rng(3);
    for (int i = 0; i < 8192; ++i) out.put(static_cast<char>(rng()));
  }
  auto catalog = Catalog::Open(db_path_);
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(catalog.status().message(), HasSubstr("not a Kagami catalog"));
  EXPECT_THAT(catalog.status().message(), HasSubstr(db_path_.string()));
}

TEST_F(CatalogTest, RejectsForeignSqliteDatabase) {
  {
    kagami::testing::SqliteDb db = kagami::testing::OpenSqlite(db_path_);
    ASSERT_NE(db, nullptr);
    sqlite3* raw = db.get();
    ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE works (id TEXT PRIMARY KEY, x INTEGER);", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
  }
  auto catalog = Catalog::Open(db_path_);
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(catalog.status().message(), HasSubstr("not a Kagami catalog"));
}

TEST_F(CatalogTest, RejectsNewerSchemaVersion) {
  { ASSERT_NE(OpenOrDie(), nullptr); }
  {
    kagami::testing::SqliteDb db = kagami::testing::OpenSqlite(db_path_);
    ASSERT_NE(db, nullptr);
    sqlite3* raw = db.get();
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  auto catalog = Catalog::Open(db_path_);
  EXPECT_EQ(catalog.status().code(), StatusCode::kUnsupported);
}

TEST_F(CatalogTest, ProcessesCreatingTheSameNewCatalogAtOnceAllOpenIt) {
  // Each round: a new file that several processes open at the same moment
  // (register and scan started together on a new data directory). Switching
  // it to WAL needs an exclusive lock, which SQLite refuses at once while
  // another process holds the file.
  constexpr int kProcs = 6, kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    const fs::path path = dir_ / ("catalog-" + std::to_string(round) + ".sqlite");
    std::vector<pid_t> kids;
    for (int p = 0; p < kProcs; ++p) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        auto catalog = Catalog::Open(path);
        if (!catalog.ok()) std::fprintf(stderr, "%s\n", catalog.status().ToString().c_str());
        ::_exit(catalog.ok() ? 0 : 1);
      }
      kids.push_back(pid);
    }
    for (pid_t pid : kids) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
  }
}

TEST_F(CatalogTest, OpenOfUncreatableFileIsIoError) {
  auto catalog = Catalog::Open(dir_ / "missing-dir" / "catalog.sqlite");
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace kagami::index
