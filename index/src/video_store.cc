#include "kagami/index/video_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "catalog_internal.h"
#include "kagami/base/fnv.h"
#include "kagami/base/sha256.h"
#include "kagami/ingest/memory_source.h"
#include "sqlite_handles.h"
#include "store_internal.h"
#include "video_store_internal.h"

namespace kagami::index {

namespace internal {

Result<std::string> CheckVideoAsset(const VideoAssetRecord& r, std::string_view what) {
  if (r.frames.size() > VideoStore::kMaxFramesPerAsset) {
    return Status::ResourceExhausted(std::string(what) + ": " + std::to_string(r.frames.size()) +
                                     " frames exceed the limit");
  }
  std::optional<std::string> sha = NormalizeSha256Impl(r.asset.sha256_hex);
  if (!sha) return Status::InvalidArgument(std::string(what) + ": bad sha256");
  KAGAMI_RETURN_IF_ERROR(CheckText(r.asset.path, "asset path"));
  KAGAMI_RETURN_IF_ERROR(CheckText(r.asset.media_type, "asset media type"));
  KAGAMI_RETURN_IF_ERROR(CheckText(r.asset.work_id, "asset work id"));
  KAGAMI_RETURN_IF_ERROR(CheckText(r.container, "video container"));
  KAGAMI_RETURN_IF_ERROR(CheckText(r.video_codec, "video codec"));
  KAGAMI_RETURN_IF_ERROR(CheckText(r.audio_codec, "audio codec"));
  if (r.asset.size_bytes > static_cast<uint64_t>(INT64_MAX) || !std::isfinite(r.duration_s) ||
      r.duration_s < 0) {
    return Status::InvalidArgument(std::string(what) + ": size or duration out of range");
  }
  auto bad_quality = [](int q) { return q < 0 || q > 100; };
  for (const FrameRecord& f : r.frames) {
    if (!std::isfinite(f.t) || f.t < 0 || bad_quality(f.quality) ||
        bad_quality(f.trimmed_quality) || bad_quality(f.center_quality) ||
        bad_quality(f.core_quality)) {
      return Status::InvalidArgument(std::string(what) + ": frame out of range");
    }
  }
  if (!r.audio.empty() && (!std::isfinite(r.audio_item_s) || !std::isfinite(r.audio_start_s))) {
    return Status::InvalidArgument(std::string(what) + ": audio timing out of range");
  }
  return *std::move(sha);
}

std::vector<uint8_t> AudioToBlob(const std::vector<uint32_t>& values) {
  std::vector<uint8_t> blob(values.size() * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    for (int b = 0; b < 4; ++b) blob[i * 4 + b] = static_cast<uint8_t>(values[i] >> (8 * b));
  }
  return blob;
}

std::vector<uint32_t> AudioFromBlob(const std::vector<uint8_t>& blob) {
  std::vector<uint32_t> values(blob.size() / 4);
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t v = 0;
    for (int b = 0; b < 4; ++b) v |= static_cast<uint32_t>(blob[i * 4 + b]) << (8 * b);
    values[i] = v;
  }
  return values;
}

}  // namespace internal

namespace {

using internal::AudioFromBlob;
using internal::AudioToBlob;
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

fingerprint::Hash256 HashFromBlob(const std::vector<uint8_t>& blob) {
  fingerprint::Hash256 hash;
  std::copy_n(blob.begin(), std::min<size_t>(blob.size(), 32), hash.bytes.begin());
  return hash;
}

class SqliteVideoCatalog final : public VideoCatalog {
 public:
  static Result<std::unique_ptr<VideoCatalog>> Open(const std::filesystem::path& catalog_path) {
    std::unique_ptr<SqliteVideoCatalog> c(new SqliteVideoCatalog());
    c->path_ = catalog_path.string();
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(c->path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    c->db_.reset(raw);
    if (rc != SQLITE_OK) return SqliteStatus(c->db_.get(), rc, c->What("opening"));
    sqlite3* db = c->db_.get();
    sqlite3_extended_result_codes(db, 1);
    KAGAMI_RETURN_IF_ERROR(Exec(db,
                                "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; "
                                "PRAGMA synchronous = NORMAL",
                                c->What("configuring")));
    KAGAMI_ASSIGN_OR_RETURN(auto txn,
                            ScopedTransaction::Begin(db, c->What("creating video schema")));
    KAGAMI_RETURN_IF_ERROR(Exec(db, kVideoSchemaSql, c->What("creating video schema")));
    KAGAMI_RETURN_IF_ERROR(AddCoreColumns(db, c->What("adding the core view columns")));
    KAGAMI_RETURN_IF_ERROR(txn->Commit());
    return std::unique_ptr<VideoCatalog>(std::move(c));
  }

  std::string_view backend() const override { return "sqlite"; }
  Result<std::string> Identity() override { return "sqlite:" + path_; }

  Result<int64_t> AddVideoAsset(const VideoAssetRecord& r,
                                std::vector<int64_t>* frame_ids) override {
    sqlite3* db = db_.get();
    std::string what = What("adding video " + r.asset.path);
    KAGAMI_ASSIGN_OR_RETURN(std::string sha, internal::CheckVideoAsset(r, what));
    std::vector<int64_t> ids;
    ids.reserve(r.frames.size());
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
               std::string_view(sha), static_cast<int64_t>(r.asset.size_bytes),
               std::string_view(r.asset.media_type), static_cast<int64_t>(r.frames.size()),
               std::string_view(internal::NowIso8601Utc())));
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
        ids.push_back(sqlite3_last_insert_rowid(db));
        sqlite3_reset(stmt.get());
        sqlite3_clear_bindings(stmt.get());
      }
    }
    if (!r.audio.empty() && r.audio_item_s > 0) {
      KAGAMI_ASSIGN_OR_RETURN(
          SqliteStmt stmt,
          Prepare(db,
                  "INSERT INTO audio_fingerprints (asset_id, algorithm, item_s, start_s, "
                  "fingerprint) VALUES (?1, ?2, ?3, ?4, ?5)",
                  what));
      std::vector<uint8_t> blob = AudioToBlob(r.audio);
      KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id, internal::kAudioAlgorithm, r.audio_item_s,
                                  r.audio_start_s, BlobArg{blob.data(), blob.size()}));
      KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
    }
    KAGAMI_RETURN_IF_ERROR(txn->Commit());
    if (frame_ids != nullptr) *frame_ids = std::move(ids);
    return asset_id;
  }

  Status ForEachFrame(
      int64_t after, bool hashes,
      const std::function<void(int64_t, int64_t, const FrameRecord&)>& fn) override {
    std::string what = What("reading frames");
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db_.get(),
                hashes ? "SELECT id, asset_id, t, quality, pdq_trimmed IS NOT NULL, "
                         "trimmed_quality, pdq_center IS NOT NULL, center_quality, "
                         "pdq_core IS NOT NULL, core_quality, pdq, pdq_trimmed, pdq_center, "
                         "pdq_core FROM video_frames WHERE id > ?1 ORDER BY id"
                       : "SELECT id, asset_id, t, quality, pdq_trimmed IS NOT NULL, "
                         "trimmed_quality, pdq_center IS NOT NULL, center_quality, "
                         "pdq_core IS NOT NULL, core_quality FROM video_frames WHERE id > ?1 "
                         "ORDER BY id",
                what));
    KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), after));
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
      if (!row) break;
      sqlite3_stmt* s = stmt.get();
      FrameRecord f;
      f.t = sqlite3_column_double(s, 2);
      f.quality = sqlite3_column_int(s, 3);
      if (sqlite3_column_int(s, 4) != 0) f.pdq_trimmed = fingerprint::Hash256{};
      f.trimmed_quality = sqlite3_column_int(s, 5);
      if (sqlite3_column_int(s, 6) != 0) f.pdq_center = fingerprint::Hash256{};
      f.center_quality = sqlite3_column_int(s, 7);
      if (sqlite3_column_int(s, 8) != 0) f.pdq_core = fingerprint::Hash256{};
      f.core_quality = sqlite3_column_int(s, 9);
      if (hashes) {
        f.pdq = HashFromBlob(ColumnBlob(s, 10));
        if (f.pdq_trimmed) f.pdq_trimmed = HashFromBlob(ColumnBlob(s, 11));
        if (f.pdq_center) f.pdq_center = HashFromBlob(ColumnBlob(s, 12));
        if (f.pdq_core) f.pdq_core = HashFromBlob(ColumnBlob(s, 13));
      }
      fn(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), f);
    }
    return Status::Ok();
  }

  Result<FrameStats> GetFrameStats(int min_quality, int64_t max_frame_id) override {
    std::string what = What("counting frames");
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db_.get(),
                "SELECT count(*), coalesce(sum(v), 0), coalesce(max(id), 0) FROM (SELECT id, "
                "(quality >= ?1) + (pdq_trimmed IS NOT NULL AND trimmed_quality >= ?1) + "
                "(pdq_center IS NOT NULL AND center_quality >= ?1) + "
                "(pdq_core IS NOT NULL AND core_quality >= ?1) AS v FROM video_frames "
                "WHERE id <= ?2) WHERE v > 0",
                what));
    KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), min_quality, max_frame_id));
    KAGAMI_RETURN_IF_ERROR(Step(stmt.get(), what).status());
    return FrameStats{sqlite3_column_int64(stmt.get(), 0), sqlite3_column_int64(stmt.get(), 1),
                      sqlite3_column_int64(stmt.get(), 2)};
  }

  Result<VideoAssetRef> GetAsset(int64_t asset_id) override {
    std::string what = What("reading video asset");
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db_.get(),
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

  Status ForEachAudio(const std::function<void(int64_t, double, double,
                                               const std::vector<uint32_t>&)>& fn) override {
    std::string what = What("reading audio fingerprints");
    KAGAMI_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        Prepare(db_.get(),
                "SELECT asset_id, item_s, start_s, fingerprint FROM audio_fingerprints ORDER BY "
                "asset_id",
                what));
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
      if (!row) break;
      fn(sqlite3_column_int64(stmt.get(), 0), sqlite3_column_double(stmt.get(), 1),
         sqlite3_column_double(stmt.get(), 2), AudioFromBlob(ColumnBlob(stmt.get(), 3)));
    }
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListVideoAssetSha256s() override {
    return internal::SelectTexts(db_.get(),
                                 "SELECT a.sha256 FROM assets a JOIN video_assets v ON "
                                 "v.asset_id = a.id ORDER BY a.sha256",
                                 What("listing video assets"));
  }

  Result<std::optional<VideoAssetRecord>> GetVideoAsset(const std::string& sha256_hex) override {
    std::optional<std::string> sha = NormalizeSha256(sha256_hex);
    if (!sha) return Status::InvalidArgument("'" + sha256_hex + "' is not a SHA-256");
    std::string what = What("reading video " + *sha);
    sqlite3* db = db_.get();
    VideoAssetRecord r;
    int64_t asset_id = 0;
    {
      KAGAMI_ASSIGN_OR_RETURN(
          SqliteStmt stmt,
          Prepare(db,
                  "SELECT a.id, a.work_id, a.path, a.sha256, a.size_bytes, a.media_type, "
                  "v.duration_s, v.width, v.height, v.container, v.video_codec, v.audio_codec "
                  "FROM assets a JOIN video_assets v ON v.asset_id = a.id WHERE a.sha256 = ?1",
                  what));
      KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), std::string_view(*sha)));
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
      if (!row) return std::optional<VideoAssetRecord>();
      sqlite3_stmt* s = stmt.get();
      asset_id = sqlite3_column_int64(s, 0);
      r.asset.work_id = ColumnText(s, 1);
      r.asset.path = ColumnText(s, 2);
      r.asset.sha256_hex = ColumnText(s, 3);
      r.asset.size_bytes = static_cast<uint64_t>(sqlite3_column_int64(s, 4));
      r.asset.media_type = ColumnText(s, 5);
      r.duration_s = sqlite3_column_double(s, 6);
      r.width = sqlite3_column_int(s, 7);
      r.height = sqlite3_column_int(s, 8);
      r.container = ColumnText(s, 9);
      r.video_codec = ColumnText(s, 10);
      r.audio_codec = ColumnText(s, 11);
    }
    {
      KAGAMI_ASSIGN_OR_RETURN(
          SqliteStmt stmt,
          Prepare(db,
                  "SELECT t, pdq, quality, pdq_trimmed, trimmed_quality, pdq_center, "
                  "center_quality, pdq_core, core_quality FROM video_frames WHERE asset_id = ?1 "
                  "ORDER BY id",
                  what));
      KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id));
      while (true) {
        KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
        if (!row) break;
        sqlite3_stmt* s = stmt.get();
        FrameRecord f;
        f.t = sqlite3_column_double(s, 0);
        f.pdq = HashFromBlob(ColumnBlob(s, 1));
        f.quality = sqlite3_column_int(s, 2);
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
          f.pdq_trimmed = HashFromBlob(ColumnBlob(s, 3));
        f.trimmed_quality = sqlite3_column_int(s, 4);
        if (sqlite3_column_type(s, 5) != SQLITE_NULL) f.pdq_center = HashFromBlob(ColumnBlob(s, 5));
        f.center_quality = sqlite3_column_int(s, 6);
        if (sqlite3_column_type(s, 7) != SQLITE_NULL) f.pdq_core = HashFromBlob(ColumnBlob(s, 7));
        f.core_quality = sqlite3_column_int(s, 8);
        r.frames.push_back(f);
      }
    }
    {
      KAGAMI_ASSIGN_OR_RETURN(SqliteStmt stmt, Prepare(db,
                                                       "SELECT item_s, start_s, fingerprint FROM "
                                                       "audio_fingerprints WHERE asset_id = ?1",
                                                       what));
      KAGAMI_RETURN_IF_ERROR(Bind(stmt.get(), asset_id));
      KAGAMI_ASSIGN_OR_RETURN(bool row, Step(stmt.get(), what));
      if (row) {
        r.audio_item_s = sqlite3_column_double(stmt.get(), 0);
        r.audio_start_s = sqlite3_column_double(stmt.get(), 1);
        r.audio = AudioFromBlob(ColumnBlob(stmt.get(), 2));
      }
    }
    return std::optional<VideoAssetRecord>(std::move(r));
  }

 private:
  SqliteVideoCatalog() = default;
  std::string What(std::string_view op) const {
    return "catalog " + path_ + ": " + std::string(op);
  }
  SqliteDb db_;
  std::string path_;
};

// --- The shared cache's frame map (frames-shared.map) -----------------------
//
// "KGMVFM1\n", u32 identity length, identity, i64 high-water mark, u64 count,
// count x (i64 frame id, i64 asset id, f64 t), u64 FNV-1a-64 of all before it.
// Little-endian (the machines Kagami runs on).

constexpr char kMapMagic[8] = {'K', 'G', 'M', 'V', 'F', 'M', '1', '\n'};
constexpr uint64_t kMaxMapFrames = uint64_t{1} << 32;

// The map files were first written with this offset basis (FNV's standard
// 14695981039346656037 with its last digit missing); kept so that existing
// caches still verify.
constexpr uint64_t kMapChecksumSeed = 1469598103934665603ull;
uint64_t MapChecksum(const std::string& bytes) {
  return Fnv1a64(kMapChecksumSeed, bytes.data(), bytes.size());
}

template <typename T>
void PutRaw(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
bool GetRaw(const std::string& in, size_t& at, T& value) {
  if (in.size() - at < sizeof value) return false;
  std::memcpy(&value, in.data() + at, sizeof value);
  at += sizeof value;
  return true;
}

struct FrameMap {
  std::string identity;
  int64_t high_water = 0;
  std::unordered_map<int64_t, FrameRef> frames;
};

// nullopt when missing or damaged (the cache is then rebuilt).
std::optional<FrameMap> ReadFrameMap(const std::filesystem::path& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return std::nullopt;
  std::string bytes;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) bytes.append(buffer, n);
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed || bytes.size() < sizeof kMapMagic + 4 + 8 + 8 + 8) return std::nullopt;
  if (std::memcmp(bytes.data(), kMapMagic, sizeof kMapMagic) != 0) return std::nullopt;
  uint64_t checksum = 0;
  std::memcpy(&checksum, bytes.data() + bytes.size() - 8, 8);
  std::string body = bytes.substr(0, bytes.size() - 8);
  if (MapChecksum(body) != checksum) return std::nullopt;
  size_t at = sizeof kMapMagic;
  uint32_t id_len = 0;
  if (!GetRaw(body, at, id_len) || body.size() - at < id_len) return std::nullopt;
  FrameMap map;
  map.identity = body.substr(at, id_len);
  at += id_len;
  uint64_t count = 0;
  if (!GetRaw(body, at, map.high_water) || !GetRaw(body, at, count)) return std::nullopt;
  if (count > kMaxMapFrames || (body.size() - at) != count * 24) return std::nullopt;
  map.frames.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    int64_t id = 0;
    FrameRef ref;
    GetRaw(body, at, id);
    GetRaw(body, at, ref.asset_id);
    GetRaw(body, at, ref.t);
    map.frames[id] = ref;
  }
  return map;
}

Status WriteFrameMap(const std::filesystem::path& path, const std::string& identity,
                     int64_t high_water, const std::unordered_map<int64_t, FrameRef>& frames) {
  std::vector<std::pair<int64_t, FrameRef>> sorted(frames.begin(), frames.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out(kMapMagic, sizeof kMapMagic);
  PutRaw(out, static_cast<uint32_t>(identity.size()));
  out += identity;
  PutRaw(out, high_water);
  PutRaw(out, static_cast<uint64_t>(sorted.size()));
  for (const auto& [id, ref] : sorted) {
    PutRaw(out, id);
    PutRaw(out, ref.asset_id);
    PutRaw(out, ref.t);
  }
  PutRaw(out, MapChecksum(out));
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "creating " + tmp.string());
  size_t done = 0;
  while (done < out.size()) {
    ssize_t w = ::write(fd, out.data() + done, out.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      Status st = ErrnoStatus(errno, "writing " + tmp.string());
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Status st = ErrnoStatus(errno, "writing " + tmp.string());
    ::unlink(tmp.c_str());
    return st;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return ErrnoStatus(ec.value(), "renaming " + tmp.string() + " to " + path.string());
  return Status::Ok();
}

}  // namespace

VideoCatalog::~VideoCatalog() = default;

Result<std::unique_ptr<VideoCatalog>> OpenSqliteVideoCatalog(
    const std::filesystem::path& catalog_path) {
  return SqliteVideoCatalog::Open(catalog_path);
}

std::string VideoAssetDigest(const VideoAssetRecord& r) {
  // Length-prefixed fields, so that no two contents serialise alike.
  std::string buf;
  auto put = [&buf](std::string_view field) {
    buf += std::to_string(field.size());
    buf += ':';
    buf.append(field.data(), field.size());
  };
  auto put_double = [&put](double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", v);
    put(text);
  };
  auto put_hash = [&put](const std::optional<fingerprint::Hash256>& h, int quality) {
    if (!h) {
      put("-");
      return;
    }
    put(std::string_view(reinterpret_cast<const char*>(h->bytes.data()), h->bytes.size()));
    put(std::to_string(quality));
  };
  put(r.asset.work_id);
  put(r.asset.path);
  put(r.asset.sha256_hex);
  put(std::to_string(r.asset.size_bytes));
  put(r.asset.media_type);
  put_double(r.duration_s);
  put(std::to_string(r.width));
  put(std::to_string(r.height));
  put(r.container);
  put(r.video_codec);
  put(r.audio_codec);
  put(std::to_string(r.frames.size()));
  for (const FrameRecord& f : r.frames) {
    put_double(f.t);
    put_hash(f.pdq, f.quality);
    put_hash(f.pdq_trimmed, f.trimmed_quality);
    put_hash(f.pdq_center, f.center_quality);
    put_hash(f.pdq_core, f.core_quality);
  }
  put(std::to_string(r.audio.size()));
  if (!r.audio.empty()) {
    std::vector<uint8_t> blob = AudioToBlob(r.audio);
    put(std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()));
    put_double(r.audio_item_s);
    put_double(r.audio_start_s);
  }
  return kagami::Sha256Hex(buf.data(), buf.size());
}

struct VideoStore::Impl {
  std::unique_ptr<VideoCatalog> catalog;
  std::filesystem::path data_dir;
  bool load_index = true;
  std::string identity;                          // shared catalogs
  std::unordered_map<int64_t, FrameRef> frames;  // every indexed (or, embedded, every) frame id
};

VideoStore::VideoStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoStore::~VideoStore() = default;

bool VideoStore::shared() const { return impl_->catalog->shared(); }
VideoCatalog& VideoStore::catalog() { return *impl_->catalog; }

Result<std::unique_ptr<VideoStore>> VideoStore::Open(const std::filesystem::path& data_dir,
                                                     const VideoStoreOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->data_dir = data_dir;
  impl->load_index = options.load_index;
  if (options.catalog_conninfo.empty()) {
    KAGAMI_ASSIGN_OR_RETURN(impl->catalog, OpenSqliteVideoCatalog(data_dir / "catalog.sqlite"));
  } else {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) return ErrnoStatus(ec.value(), "creating data directory " + data_dir.string());
    KAGAMI_ASSIGN_OR_RETURN(impl->catalog, OpenPgVideoCatalog(options.catalog_conninfo));
  }
  std::unique_ptr<VideoStore> store(new VideoStore(std::move(impl)));
  store->frame_index_ = std::make_unique<PdqIndex>();
  if (store->shared()) {
    KAGAMI_RETURN_IF_ERROR(store->OpenShared());
  } else {
    KAGAMI_RETURN_IF_ERROR(store->OpenEmbedded());
  }
  return store;
}

Result<int> VideoStore::IndexFrame(int64_t id, const FrameRecord& f) {
  int added = 0;
  if (f.quality >= kMinIndexQuality) {
    KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, f.pdq));
    ++added;
  }
  if (f.pdq_trimmed && f.trimmed_quality >= kMinIndexQuality) {
    KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f.pdq_trimmed));
    ++added;
  }
  if (f.pdq_center && f.center_quality >= kMinIndexQuality) {
    KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f.pdq_center));
    ++added;
  }
  if (f.pdq_core && f.core_quality >= kMinIndexQuality) {
    KAGAMI_RETURN_IF_ERROR(frame_index_->Add(id, *f.pdq_core));
    ++added;
  }
  return added;
}

Status VideoStore::OpenEmbedded() {
  // Frame locations, and what the frame index must hold.
  int64_t expected = 0, max_id = 0;
  KAGAMI_RETURN_IF_ERROR(impl_->catalog->ForEachFrame(
      0, false, [&](int64_t id, int64_t asset_id, const FrameRecord& f) {
        impl_->frames[id] = FrameRef{asset_id, f.t};
        bool full = f.quality >= kMinIndexQuality;
        bool trimmed = f.pdq_trimmed && f.trimmed_quality >= kMinIndexQuality;
        bool center = f.pdq_center && f.center_quality >= kMinIndexQuality;
        bool core = f.pdq_core && f.core_quality >= kMinIndexQuality;
        expected += int(full) + int(trimmed) + int(center) + int(core);
        if (full || trimmed || center || core) max_id = id;
      }));
  const std::filesystem::path index_path = impl_->data_dir / kIndexFileName;
  auto loaded = PdqIndex::Load(index_path);
  if (loaded.ok() && (*loaded)->size() == expected && (*loaded)->max_unit_id() == max_id) {
    frame_index_ = std::move(*loaded);
    return Status::Ok();
  }
  if (!loaded.ok()) {
    StatusCode code = loaded.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return loaded.status();
    }
  }
  // Missing, damaged or stale: rebuild from the catalog.
  frame_index_ = std::make_unique<PdqIndex>();
  Status added;
  KAGAMI_RETURN_IF_ERROR(
      impl_->catalog->ForEachFrame(0, true, [&](int64_t id, int64_t, const FrameRecord& f) {
        if (!added.ok()) return;
        auto n = IndexFrame(id, f);
        if (!n.ok()) added = n.status();
      }));
  KAGAMI_RETURN_IF_ERROR(added.WithContext("rebuilding the frame index"));
  last_refresh_.full_rebuild = true;
  last_refresh_.hashes_added = frame_index_->size();
  full_rebuilds_ = 1;
  return SaveIndex();
}

Status VideoStore::OpenShared() {
  KAGAMI_ASSIGN_OR_RETURN(impl_->identity, impl_->catalog->Identity());
  if (!impl_->load_index) return Status::Ok();
  const std::filesystem::path index_path = impl_->data_dir / kSharedIndexFileName;
  auto loaded = PdqIndex::Load(index_path);
  if (!loaded.ok()) {
    StatusCode code = loaded.status().code();
    if (code != StatusCode::kNotFound && code != StatusCode::kCorrupt &&
        code != StatusCode::kUnsupported) {
      return loaded.status();
    }
  }
  std::optional<FrameMap> map;
  if (loaded.ok()) map = ReadFrameMap(impl_->data_dir / kSharedMapFileName);
  bool usable = loaded.ok() && map && map->identity == impl_->identity;
  if (usable) {
    // The cache must hold exactly the catalog's indexable frames up to the mark.
    KAGAMI_ASSIGN_OR_RETURN(VideoCatalog::FrameStats stats,
                            impl_->catalog->GetFrameStats(kMinIndexQuality, map->high_water));
    usable = (*loaded)->size() == stats.views && (*loaded)->max_unit_id() == stats.max_indexed &&
             static_cast<int64_t>(map->frames.size()) == stats.indexed_frames;
  }
  if (usable) {
    frame_index_ = std::move(*loaded);
    impl_->frames = std::move(map->frames);
    last_refresh_.high_water = map->high_water;
    KAGAMI_RETURN_IF_ERROR(Refresh().status());
  } else {
    frame_index_ = std::make_unique<PdqIndex>();
    impl_->frames.clear();
    last_refresh_ = FrameIndexRefresh{};
    KAGAMI_ASSIGN_OR_RETURN(FrameIndexRefresh refresh, Refresh());
    refresh.full_rebuild = true;
    last_refresh_ = refresh;
    ++full_rebuilds_;
  }
  // Persist what was read, so that the next Open starts from here. Best
  // effort: a cache that cannot be written costs the next Open a longer read.
  if (last_refresh_.frames_read > 0 || !usable) (void)SaveSharedCache();
  return Status::Ok();
}

Result<FrameIndexRefresh> VideoStore::Refresh() {
  FrameIndexRefresh refresh;
  refresh.high_water = last_refresh_.high_water;
  if (!shared() || !impl_->load_index) return refresh;
  Status added;
  KAGAMI_RETURN_IF_ERROR(impl_->catalog->ForEachFrame(
      refresh.high_water, true, [&](int64_t id, int64_t asset_id, const FrameRecord& f) {
        refresh.high_water = std::max(refresh.high_water, id);
        ++refresh.frames_read;
        if (!added.ok()) return;
        auto n = IndexFrame(id, f);
        if (!n.ok()) {
          added = n.status();
          return;
        }
        refresh.hashes_added += *n;
        if (*n > 0) impl_->frames[id] = FrameRef{asset_id, f.t};
      }));
  if (!added.ok()) {
    // The in-memory index is now partial: never save it.
    impl_->load_index = false;
    return added.WithContext("refreshing the frame index from the catalog");
  }
  last_refresh_ = refresh;
  return refresh;
}

Status VideoStore::SaveSharedCache() {
  int fd = -1;
  KAGAMI_RETURN_IF_ERROR(
      internal::LockWriter(impl_->data_dir / "writer.lock", std::chrono::seconds(30), &fd));
  if (fd < 0) return Status::Ok();  // another process is saving its (equally valid) cache
  // Index first, then the map with the mark: a crash between the two leaves
  // a map that does not fit the index, which Open detects and rebuilds.
  Status saved = frame_index_->Save(impl_->data_dir / kSharedIndexFileName);
  if (saved.ok()) {
    saved = WriteFrameMap(impl_->data_dir / kSharedMapFileName, impl_->identity,
                          last_refresh_.high_water, impl_->frames);
  }
  ::close(fd);
  return saved;
}

Result<int64_t> VideoStore::AddVideoAsset(const VideoAssetRecord& r) {
  std::vector<int64_t> ids;
  KAGAMI_ASSIGN_OR_RETURN(int64_t asset_id, impl_->catalog->AddVideoAsset(r, &ids));
  // A shared catalog's frames reach a node's index by high-water mark only
  // (other writers' smaller ids may still be uncommitted).
  if (shared()) return asset_id;
  for (size_t i = 0; i < ids.size() && i < r.frames.size(); ++i) {
    impl_->frames[ids[i]] = FrameRef{asset_id, r.frames[i].t};
    KAGAMI_RETURN_IF_ERROR(IndexFrame(ids[i], r.frames[i]).status());
  }
  return asset_id;
}

Status VideoStore::SaveIndex() {
  if (shared()) {
    if (!impl_->load_index) return Status::Ok();  // a registering node keeps no index
    return SaveSharedCache();
  }
  return frame_index_->Save(impl_->data_dir / kIndexFileName);
}

std::optional<FrameRef> VideoStore::GetFrame(int64_t frame_id) const {
  auto it = impl_->frames.find(frame_id);
  if (it == impl_->frames.end()) return std::nullopt;
  return it->second;
}

int64_t VideoStore::frame_count() const { return static_cast<int64_t>(impl_->frames.size()); }

Result<VideoAssetRef> VideoStore::GetAsset(int64_t asset_id) {
  return impl_->catalog->GetAsset(asset_id);
}

Status VideoStore::ForEachAudio(
    const std::function<void(int64_t, double, double, const std::vector<uint32_t>&)>& fn) {
  return impl_->catalog->ForEachAudio(fn);
}

}  // namespace kagami::index
