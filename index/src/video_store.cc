#include "kagami/index/video_store.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <unordered_map>

#include "sqlite_handles.h"

namespace kagami::index {

namespace {

using internal::Bind;
using internal::BlobArg;
using internal::ColumnBlob;
using internal::ColumnText;
using internal::Exec;
using internal::Prepare;
using internal::ScopedTransaction;
using internal::SqliteDb;
using internal::SqliteStatus;
using internal::SqliteStmt;
using internal::Step;

// Additive schema: new tables only, created if missing (no user_version bump
// needed: a catalog without them simply has no videos).
constexpr const char* kVideoSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS video_assets (
  asset_id INTEGER PRIMARY KEY REFERENCES assets (id),
  duration_s REAL NOT NULL CHECK (duration_s >= 0),
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  container TEXT NOT NULL,
  video_codec TEXT NOT NULL,
  audio_codec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS video_frames (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id INTEGER NOT NULL REFERENCES assets (id),
  t REAL NOT NULL CHECK (t >= 0),
  pdq BLOB NOT NULL CHECK (length(pdq) = 32),
  quality INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
  pdq_trimmed BLOB CHECK (pdq_trimmed IS NULL OR length(pdq_trimmed) = 32),
  trimmed_quality INTEGER NOT NULL DEFAULT 0 CHECK (trimmed_quality BETWEEN 0 AND 100),
  pdq_center BLOB CHECK (pdq_center IS NULL OR length(pdq_center) = 32),
  center_quality INTEGER NOT NULL DEFAULT 0 CHECK (center_quality BETWEEN 0 AND 100)
);
CREATE INDEX IF NOT EXISTS video_frames_by_asset ON video_frames (asset_id);
CREATE TABLE IF NOT EXISTS audio_fingerprints (
  asset_id INTEGER PRIMARY KEY REFERENCES assets (id),
  algorithm TEXT NOT NULL,
  item_s REAL NOT NULL CHECK (item_s > 0),
  start_s REAL NOT NULL,
  fingerprint BLOB NOT NULL
);
)sql";

// Additive migration: the core view (fingerprint::FrameFingerprint::core) of
// frames registered since; frames of older catalogs keep NULL there and are
// matched by their other views.
Status AddCoreColumns(sqlite3* db, const std::string& what) {
  KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt, Prepare(db, "PRAGMA table_info(video_frames)", what));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    if (!row) break;
    if (ColumnText(stmt.get(), 1) == "pdq_core") return Status::Ok();
  }
  return Exec(db,
              "ALTER TABLE video_frames ADD COLUMN pdq_core BLOB "
              "CHECK (pdq_core IS NULL OR length(pdq_core) = 32); "
              "ALTER TABLE video_frames ADD COLUMN core_quality INTEGER NOT NULL DEFAULT 0 "
              "CHECK (core_quality BETWEEN 0 AND 100)",
              what);
}

std::string NowIso8601Utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

fingerprint::Hash256 HashFromBlob(const std::vector<uint8_t>& blob) {
  fingerprint::Hash256 hash;
  std::copy_n(blob.begin(), std::min<size_t>(blob.size(), 32), hash.bytes.begin());
  return hash;
}

std::vector<uint8_t> ValuesToBlob(const std::vector<uint32_t>& values) {
  std::vector<uint8_t> blob(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    for (int b = 0; b < 4; ++b) blob[i * 4 + b] = static_cast<uint8_t>(values[i] >> (8 * b));
  }
  return blob;
}

std::vector<uint32_t> ValuesFromBlob(const std::vector<uint8_t>& blob) {
  std::vector<uint32_t> values(blob.size() / 4);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b) v |= static_cast<uint32_t>(blob[i * 4 + b]) << (8 * b);
    values[i] = v;
  }
  return values;
}

}  // namespace

struct VideoStore::Impl {
  SqliteDb db;
  std::string path;
  std::filesystem::path index_path;
  std::unordered_map<int64_t, FrameRef> frames;  // every frame id -> where it lies

  std::string What(std::string_view op) const { return "catalog " + path + ": " + std::string(op); }
};

VideoStore::VideoStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoStore::~VideoStore() = default;

Result<std::unique_ptr<VideoStore>> VideoStore::Open(const std::filesystem::path& data_dir) {
  auto impl = std::make_unique<Impl>();
  impl->path = (data_dir / "catalog.sqlite").string();
  impl->index_path = data_dir / kIndexFileName;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(impl->path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) return SqliteStatus(impl->db.get(), rc, impl->What("opening"));
  sqlite3* db = impl->db.get();
  sqlite3_extended_result_codes(db, 1);
  KAGAMI_RETURN_IF_ERROR(Exec(db,
                              "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; "
                              "PRAGMA synchronous = NORMAL",
                              impl->What("configuring")));
  {
    KAGAMI_ASSIGN_OR_RETURN(auto txn,
                            ScopedTransaction::Begin(db, impl->What("creating video schema")));
    KAGAMI_RETURN_IF_ERROR(Exec(db, kVideoSchemaSql, impl->What("creating video schema")));
    KAGAMI_RETURN_IF_ERROR(AddCoreColumns(db, impl->What("adding the core view columns")));
    KAGAMI_RETURN_IF_ERROR(txn->Commit());
  }

  // Frame locations, and what the frame index must hold.
  int64_t expected = 0, max_id = 0;
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db,
                "SELECT id, asset_id, t, quality, pdq_trimmed IS NOT NULL, trimmed_quality, "
                "pdq_center IS NOT NULL, center_quality, pdq_core IS NOT NULL, core_quality "
                "FROM video_frames ORDER BY id",
                impl->What("reading frames")));
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), impl->What("reading frames")));
      if (!row) break;
      int64_t id = sqlite3_column_int64(stmt.get(), 0);
      impl->frames[id] =
          FrameRef{sqlite3_column_int64(stmt.get(), 1), sqlite3_column_double(stmt.get(), 2)};
      bool full = sqlite3_column_int(stmt.get(), 3) >= kMinIndexQuality;
      bool trimmed = sqlite3_column_int(stmt.get(), 4) != 0 &&
                     sqlite3_column_int(stmt.get(), 5) >= kMinIndexQuality;
      bool center = sqlite3_column_int(stmt.get(), 6) != 0 &&
                    sqlite3_column_int(stmt.get(), 7) >= kMinIndexQuality;
      bool core = sqlite3_column_int(stmt.get(), 8) != 0 &&
                  sqlite3_column_int(stmt.get(), 9) >= kMinIndexQuality;
      expected += int(full) + int(trimmed) + int(center) + int(core);
      if (full || trimmed || center || core) max_id = id;
    }
  }
  std::unique_ptr<VideoStore> store(new VideoStore(std::move(impl)));
  auto loaded = PdqIndex::Load(store->impl_->index_path);
  if (loaded.ok() && (*loaded)->size() == expected && (*loaded)->max_unit_id() == max_id) {
    store->frame_index_ = std::move(*loaded);
    return store;
  }
  if (!loaded.ok()) {
    StatusCode code = loaded.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return loaded.status();
    }
  }
  // Missing, damaged or stale: rebuild from the catalog.
  store->frame_index_ = std::make_unique<PdqIndex>();
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt, Prepare(db,
                               "SELECT id, pdq, quality, pdq_trimmed, trimmed_quality, pdq_center, "
                               "center_quality, pdq_core, core_quality FROM video_frames "
                               "ORDER BY id",
                               store->impl_->What("rebuilding frame index")));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row,
                            Step(stmt.get(), store->impl_->What("rebuilding frame index")));
    if (!row) break;
    int64_t id = sqlite3_column_int64(stmt.get(), 0);
    if (sqlite3_column_int(stmt.get(), 2) >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(store->frame_index_->Add(id, HashFromBlob(ColumnBlob(stmt.get(), 1))));
    }
    if (sqlite3_column_type(stmt.get(), 3) != SQLITE_NULL &&
        sqlite3_column_int(stmt.get(), 4) >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(store->frame_index_->Add(id, HashFromBlob(ColumnBlob(stmt.get(), 3))));
    }
    if (sqlite3_column_type(stmt.get(), 5) != SQLITE_NULL &&
        sqlite3_column_int(stmt.get(), 6) >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(store->frame_index_->Add(id, HashFromBlob(ColumnBlob(stmt.get(), 5))));
    }
    if (sqlite3_column_type(stmt.get(), 7) != SQLITE_NULL &&
        sqlite3_column_int(stmt.get(), 8) >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(store->frame_index_->Add(id, HashFromBlob(ColumnBlob(stmt.get(), 7))));
    }
  }
  KAGAMI_RETURN_IF_ERROR(store->SaveIndex());
  return store;
}

Result<int64_t> VideoStore::AddVideoAsset(const VideoAssetRecord& r) {
  sqlite3* db = impl_->db.get();
  std::string what = impl_->What("adding video " + r.asset.path);
  if (r.frames.size() > kMaxFramesPerAsset) {
    return Status::ResourceExhausted(what + ": " + std::to_string(r.frames.size()) +
                                     " frames exceed the limit");
  }
  if (r.asset.sha256_hex.size() != 64) return Status::InvalidArgument(what + ": bad sha256");
  for (const FrameRecord& f : r.frames) {
    if (!std::isfinite(f.t) || f.t < 0 || f.quality < 0 || f.quality > 100) {
      return Status::InvalidArgument(what + ": frame out of range");
    }
  }
  std::vector<std::pair<int64_t, const FrameRecord*>> added;
  KAGAMI_ASSIGN_OR_RETURN(auto txn, ScopedTransaction::Begin(db, what));
  int64_t asset_id = 0;
  {
    KAGAMI_ASSIGN_OR_RETURN(SqliteStmt work,
                            Prepare(db, "SELECT 1 FROM works WHERE id = ?1", what));
    KAGAMI_RETURN_IF_ERROR(Bind(work.get(), std::string_view(r.asset.work_id)));
    KAGAMI_ASSIGN_OR_RETURN(bool exists, Step(work.get(), what));
    if (!exists) return Status::NotFound(what + ": no work '" + r.asset.work_id + "'");
  }
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db,
                "INSERT INTO assets (work_id, path, sha256, size_bytes, media_type, unit_count, "
                "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                what));
    KAGAMI_RETURN_IF_ERROR(
        Bind(stmt.get(), std::string_view(r.asset.work_id), std::string_view(r.asset.path),
             std::string_view(r.asset.sha256_hex), static_cast<int64_t>(r.asset.size_bytes),
             std::string_view(r.asset.media_type), static_cast<int64_t>(r.frames.size()),
             std::string_view(NowIso8601Utc())));
    KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
    asset_id = sqlite3_last_insert_rowid(db);
  }
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db,
                "INSERT INTO video_assets (asset_id, duration_s, width, height, container, "
                "video_codec, audio_codec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                what));
    KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id, r.duration_s, r.width, r.height,
                                std::string_view(r.container), std::string_view(r.video_codec),
                                std::string_view(r.audio_codec)));
    KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
  }
  {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db,
                "INSERT INTO video_frames (asset_id, t, pdq, quality, pdq_trimmed, "
                "trimmed_quality, pdq_center, center_quality, pdq_core, core_quality) VALUES "
                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                what));
    for (const FrameRecord& f : r.frames) {
      std::optional<BlobArg> trimmed;
      if (f.pdq_trimmed) trimmed = BlobArg{f.pdq_trimmed->bytes.data(), 32};
      std::optional<BlobArg> center;
      if (f.pdq_center) center = BlobArg{f.pdq_center->bytes.data(), 32};
      std::optional<BlobArg> core;
      if (f.pdq_core) core = BlobArg{f.pdq_core->bytes.data(), 32};
      KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id, f.t, BlobArg{f.pdq.bytes.data(), 32},
                                  f.quality, trimmed, f.trimmed_quality, center, f.center_quality,
                                  core, f.core_quality));
      KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
      added.emplace_back(sqlite3_last_insert_rowid(db), &f);
      sqlite3_reset(stmt.get());
      sqlite3_clear_bindings(stmt.get());
    }
  }
  if (!r.audio.empty() && r.audio_item_s > 0) {
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db,
                "INSERT INTO audio_fingerprints (asset_id, algorithm, item_s, start_s, "
                "fingerprint) VALUES (?1, 'chromaprint-raw-1', ?2, ?3, ?4)",
                what));
    std::vector<uint8_t> blob = ValuesToBlob(r.audio);
    KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id, r.audio_item_s, r.audio_start_s,
                                BlobArg{blob.data(), blob.size()}));
    KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
  }
  KAGAMI_RETURN_IF_ERROR(txn->Commit());
  for (const auto& [id, f] : added) {
    impl_->frames[id] = FrameRef{asset_id, f->t};
    if (f->quality >= kMinIndexQuality) KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, f->pdq));
    if (f->pdq_trimmed && f->trimmed_quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f->pdq_trimmed));
    }
    if (f->pdq_center && f->center_quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f->pdq_center));
    }
    if (f->pdq_core && f->core_quality >= kMinIndexQuality) {
      KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f->pdq_core));
    }
  }
  return asset_id;
}

Status VideoStore::SaveIndex() { return frame_index_->Save(impl_->index_path); }

std::optional<FrameRef> VideoStore::GetFrame(int64_t frame_id) const {
  auto it = impl_->frames.find(frame_id);
  if (it == impl_->frames.end()) return std::nullopt;
  return it->second;
}

int64_t VideoStore::frame_count() const { return static_cast<int64_t>(impl_->frames.size()); }

Result<VideoAssetRef> VideoStore::GetAsset(int64_t asset_id) {
  std::string what = impl_->What("reading video asset");
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      Prepare(impl_->db.get(),
              "SELECT a.work_id, w.title, a.path, a.sha256, v.duration_s FROM assets a "
              "JOIN works w ON w.id = a.work_id JOIN video_assets v ON v.asset_id = a.id "
              "WHERE a.id = ?1",
              what));
  KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id));
  KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
  if (!row) return Status::NotFound(what + ": no video asset " + std::to_string(asset_id));
  VideoAssetRef ref;
  ref.asset_id = asset_id;
  ref.work_id = ColumnText(stmt.get(), 0);
  ref.title = ColumnText(stmt.get(), 1);
  ref.path = ColumnText(stmt.get(), 2);
  ref.sha256 = ColumnText(stmt.get(), 3);
  ref.duration_s = sqlite3_column_double(stmt.get(), 4);
  return ref;
}

Status VideoStore::ForEachAudio(
    const std::function<void(int64_t, double, double, const std::vector<uint32_t>&)>& fn) {
  std::string what = impl_->What("reading audio fingerprints");
  KAGAMI_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      Prepare(impl_->db.get(),
              "SELECT asset_id, item_s, start_s, fingerprint FROM audio_fingerprints ORDER BY "
              "asset_id",
              what));
  while (true) {
    KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
    if (!row) break;
    fn(sqlite3_column_int64(stmt.get(), 0), sqlite3_column_double(stmt.get(), 1),
       sqlite3_column_double(stmt.get(), 2), ValuesFromBlob(ColumnBlob(stmt.get(), 3)));
  }
  return Status::Ok();
}

}  // namespace kagami::index
