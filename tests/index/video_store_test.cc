#include "kagami/index/video_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <random>
#include <string>

#include "kagami/index/store.h"
#include "sqlite_db.h"
#include "temp_dir.h"

namespace kagami::index {
namespace {

using fingerprint::Hash256;

Hash256 RandomHash(std::mt19937_64& rng) {
  Hash256 h;
  for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
  return h;
}

bool Finds(const PdqIndex& index, int64_t frame_id, const Hash256& hash) {
  auto results = index.RangeSearch({hash}, 0).value();
  for (const IndexHit& hit : results[0]) {
    if (hit.unit_id == frame_id) return true;
  }
  return false;
}

class VideoStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Work work;
    work.id = "w1";
    work.title = "Work One";
    ASSERT_TRUE((*store)->catalog().UpsertWork(work).ok());
  }

  VideoAssetRecord Record(const std::string& sha_digit, int frames, bool core) {
    VideoAssetRecord r;
    r.asset.work_id = "w1";
    r.asset.path = "/videos/ep" + sha_digit + ".mp4";
    r.asset.sha256_hex = std::string(64, sha_digit[0]);
    r.asset.media_type = "video/mp4";
    r.duration_s = frames;
    r.container = "mov,mp4";
    for (int i = 0; i < frames; ++i) {
      FrameRecord f;
      f.t = i;
      f.pdq = RandomHash(rng_);
      f.quality = 90;
      f.pdq_center = RandomHash(rng_);
      f.center_quality = 90;
      if (core) {
        f.pdq_core = RandomHash(rng_);
        f.core_quality = i % 2 == 0 ? 90 : 10;  // odd frames: too flat to index
      }
      r.frames.push_back(f);
    }
    return r;
  }

  testing::TempDir dir_;
  std::mt19937_64 rng_{7};
};

// The core view is stored and indexed (when its quality allows), and the
// index rebuilt from the catalog holds it again.
TEST_F(VideoStoreTest, CoreViewIsIndexedAndRebuiltFromTheCatalog) {
  VideoAssetRecord record = Record("a", 6, /*core=*/true);
  std::vector<int64_t> ids;
  {
    auto store = VideoStore::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->AddVideoAsset(record).ok());
    ASSERT_TRUE((*store)->SaveIndex().ok());
    EXPECT_EQ((*store)->frame_index().size(), 6 * 2 + 3);  // full + center each, 3 cores
  }
  std::filesystem::remove(dir_.path() / VideoStore::kIndexFileName);
  auto store = VideoStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->frame_index().size(), 6 * 2 + 3);
  for (size_t i = 0; i < record.frames.size(); ++i) {
    auto hits = (*store)->frame_index().RangeSearch({*record.frames[i].pdq_core}, 0).value();
    EXPECT_EQ(hits[0].size(), i % 2 == 0 ? 1u : 0u) << "frame " << i;
  }
}

// A catalog made before the core view existed (video_frames without
// pdq_core/core_quality) gains the columns on open, keeps its frames and
// index, and takes new frames with their core view.
TEST_F(VideoStoreTest, OlderCatalogGainsTheCoreColumnsAndKeepsItsFrames) {
  {
    auto store = VideoStore::Open(dir_.path());
    ASSERT_TRUE(store.ok());
  }
  // Turn video_frames back into the older schema, with one frame.
  {
    testing::SqliteDb db = testing::OpenSqlite(dir_.path() / "catalog.sqlite");
    ASSERT_NE(db, nullptr);
    const char* older = R"sql(
    DROP TABLE video_frames;
    CREATE TABLE video_frames (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      asset_id INTEGER NOT NULL REFERENCES assets (id),
      t REAL NOT NULL CHECK (t >= 0),
      pdq BLOB NOT NULL CHECK (length(pdq) = 32),
      quality INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
      pdq_trimmed BLOB CHECK (pdq_trimmed IS NULL OR length(pdq_trimmed) = 32),
      trimmed_quality INTEGER NOT NULL DEFAULT 0 CHECK (trimmed_quality BETWEEN 0 AND 100),
      pdq_center BLOB CHECK (pdq_center IS NULL OR length(pdq_center) = 32),
      center_quality INTEGER NOT NULL DEFAULT 0 CHECK (center_quality BETWEEN 0 AND 100));
    INSERT INTO assets (work_id, path, sha256, size_bytes, media_type, unit_count, created_at)
      VALUES ('w1', '/old.mp4', ')sql"
                        "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
                        R"sql(', 1, 'video/mp4', 1, '2026-01-01T00:00:00Z');
    INSERT INTO video_frames (asset_id, t, pdq, quality)
      VALUES (last_insert_rowid(), 0, zeroblob(32), 90);
  )sql";
    ASSERT_EQ(sqlite3_exec(db.get(), older, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db.get());
  }
  std::filesystem::remove(dir_.path() / VideoStore::kIndexFileName);

  auto store = VideoStore::Open(dir_.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->frame_count(), 1);
  EXPECT_TRUE(Finds((*store)->frame_index(), 1, Hash256{}));
  VideoAssetRecord record = Record("d", 2, /*core=*/true);
  ASSERT_TRUE((*store)->AddVideoAsset(record).ok());
  EXPECT_TRUE(Finds((*store)->frame_index(), 2, *record.frames[0].pdq_core));
  ASSERT_TRUE((*store)->SaveIndex().ok());
  // Opening again neither fails nor adds the columns twice, and the saved index is current.
  auto again = VideoStore::Open(dir_.path());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->frame_index().size(), 1 + 2 * 2 + 1);
}

}  // namespace
}  // namespace kagami::index
