// The video tables of the PostgreSQL catalog (VideoCatalog, video_store.h):
// the same records, limits and transaction per asset as the SQLite backend in
// video_store.cc, on one libpq connection. Schema: migration 2 of the
// "catalog" component (pg_catalog.cc).

#include <algorithm>
#include <utility>

#include "catalog_internal.h"
#include "kagami/index/video_store.h"
#include "kagami/store/pg_connection.h"
#include "pg_catalog_internal.h"
#include "video_store_internal.h"

namespace kagami::index {
namespace {

using internal::AudioFromBlob;
using internal::AudioToBlob;
using internal::FromBytea;
using internal::HashFromBytea;
using internal::ToBytea;
using store::PgConnection;
using store::PgParam;
using store::PgRows;
using store::PgTransaction;

// Frames per INSERT statement, and rows per page when streaming frames.
constexpr size_t kInsertBatch = 256;
constexpr int kReadPage = 4096;

std::string HashParam(const fingerprint::Hash256& h) {
  return ToBytea(h.bytes.data(), h.bytes.size());
}

class PgVideoCatalog final : public VideoCatalog {
 public:
  explicit PgVideoCatalog(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  std::string_view backend() const override { return "postgresql"; }

  Result<std::string> Identity() override { return internal::PgCatalogIdentity(*conn_); }

  Result<int64_t> AddVideoAsset(const VideoAssetRecord& r,
                                std::vector<int64_t>* frame_ids) override {
    std::string what = What("adding video " + r.asset.path);
    KAGAMI_ASSIGN_OR_RETURN(std::string sha, internal::CheckVideoAsset(r, what));
    PgTransaction txn(*conn_);
    KAGAMI_RETURN_IF_ERROR(txn.Begin().WithContext(what));
    // Frame ids become visible in commit order (the high-water mark of the
    // nodes' frame index caches relies on it).
    KAGAMI_RETURN_IF_ERROR(conn_->Exec(internal::kPgInsertLockSql).status().WithContext(what));
    KAGAMI_ASSIGN_OR_RETURN(PgRows work,
                            conn_->Exec("SELECT 1 FROM works WHERE id = $1", {r.asset.work_id}));
    if (work.empty()) return Status::NotFound(what + ": no work '" + r.asset.work_id + "'");
    KAGAMI_ASSIGN_OR_RETURN(PgRows existing,
                            conn_->Exec("SELECT id FROM assets WHERE sha256 = $1", {sha}));
    if (!existing.empty()) {
      return Status::InvalidArgument(what + ": content " + sha +
                                     " is already registered as asset " + existing.Text(0, 0));
    }
    auto inserted = conn_->Exec(
        "INSERT INTO assets (work_id, path, sha256, size_bytes, media_type, unit_count) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        {r.asset.work_id, r.asset.path, sha, static_cast<int64_t>(r.asset.size_bytes),
         r.asset.media_type, static_cast<int64_t>(r.frames.size())});
    if (!inserted.ok()) return inserted.status().WithContext(what);
    const int64_t asset_id = inserted->Int(0, 0);
    KAGAMI_RETURN_IF_ERROR(conn_
                               ->Exec("INSERT INTO video_assets (asset_id, duration_s, width, "
                                      "height, container, video_codec, audio_codec) VALUES ($1, "
                                      "$2, $3, $4, $5, $6, $7)",
                                      {asset_id, r.duration_s, r.width, r.height, r.container,
                                       r.video_codec, r.audio_codec})
                               .status()
                               .WithContext(what));
    std::vector<int64_t> ids;
    ids.reserve(r.frames.size());
    for (size_t begin = 0; begin < r.frames.size();) {
      const size_t end = std::min(r.frames.size(), begin + kInsertBatch);
      std::string sql =
          "INSERT INTO video_frames (asset_id, t, pdq, quality, pdq_trimmed, trimmed_quality, "
          "pdq_center, center_quality, pdq_core, core_quality) VALUES ";
      std::vector<PgParam> params;
      params.reserve((end - begin) * 10);
      for (size_t i = begin; i < end; ++i) {
        const FrameRecord& f = r.frames[i];
        const int p = static_cast<int>(params.size());
        if (i > begin) sql += ", ";
        sql += "(";
        for (int k = 1; k <= 10; ++k) sql += (k > 1 ? ", $" : "$") + std::to_string(p + k);
        sql += ")";
        params.emplace_back(asset_id);
        params.emplace_back(f.t);
        params.emplace_back(HashParam(f.pdq));
        params.emplace_back(f.quality);
        params.emplace_back(f.pdq_trimmed ? PgParam(HashParam(*f.pdq_trimmed))
                                          : PgParam(std::nullopt));
        params.emplace_back(f.trimmed_quality);
        params.emplace_back(f.pdq_center ? PgParam(HashParam(*f.pdq_center))
                                         : PgParam(std::nullopt));
        params.emplace_back(f.center_quality);
        params.emplace_back(f.pdq_core ? PgParam(HashParam(*f.pdq_core)) : PgParam(std::nullopt));
        params.emplace_back(f.core_quality);
      }
      sql += " RETURNING id";
      auto rows = conn_->Exec(sql, params);
      if (!rows.ok()) return rows.status().WithContext(what);
      std::vector<int64_t> batch;
      for (int i = 0; i < rows->size(); ++i) batch.push_back(rows->Int(i, 0));
      // Identity values are drawn in VALUES order; RETURNING order is not promised.
      std::sort(batch.begin(), batch.end());
      ids.insert(ids.end(), batch.begin(), batch.end());
      begin = end;
    }
    if (!r.audio.empty() && r.audio_item_s > 0) {
      std::vector<uint8_t> blob = AudioToBlob(r.audio);
      KAGAMI_RETURN_IF_ERROR(
          conn_
              ->Exec("INSERT INTO audio_fingerprints (asset_id, algorithm, item_s, start_s, "
                     "fingerprint) VALUES ($1, $2, $3, $4, $5)",
                     {asset_id, internal::kAudioAlgorithm, r.audio_item_s, r.audio_start_s,
                      ToBytea(blob.data(), blob.size())})
              .status()
              .WithContext(what));
    }
    KAGAMI_RETURN_IF_ERROR(conn_->Exec(internal::kPgNotifySql).status().WithContext(what));
    KAGAMI_RETURN_IF_ERROR(txn.Commit().WithContext(what));
    if (frame_ids != nullptr) *frame_ids = std::move(ids);
    return asset_id;
  }

  Status ForEachFrame(
      int64_t after_frame_id, bool hashes,
      const std::function<void(int64_t, int64_t, const FrameRecord&)>& fn) override {
    int64_t after = after_frame_id;
    const std::string sql =
        std::string(
            "SELECT id, asset_id, t, quality, pdq_trimmed IS NOT NULL, trimmed_quality, "
            "pdq_center IS NOT NULL, center_quality, pdq_core IS NOT NULL, core_quality") +
        (hashes ? ", pdq, pdq_trimmed, pdq_center, pdq_core" : "") +
        " FROM video_frames WHERE id > $1 ORDER BY id LIMIT $2";
    while (true) {
      // Pages by id: a long catalog never sits in one result.
      KAGAMI_ASSIGN_OR_RETURN(PgRows r, conn_->Exec(sql, {after, kReadPage}));
      for (int i = 0; i < r.size(); ++i) {
        const int64_t id = r.Int(i, 0);
        FrameRecord f;
        f.t = r.Double(i, 2);
        f.quality = static_cast<int>(r.Int(i, 3));
        if (r.Bool(i, 4)) f.pdq_trimmed = fingerprint::Hash256{};
        f.trimmed_quality = static_cast<int>(r.Int(i, 5));
        if (r.Bool(i, 6)) f.pdq_center = fingerprint::Hash256{};
        f.center_quality = static_cast<int>(r.Int(i, 7));
        if (r.Bool(i, 8)) f.pdq_core = fingerprint::Hash256{};
        f.core_quality = static_cast<int>(r.Int(i, 9));
        if (hashes) {
          KAGAMI_ASSIGN_OR_RETURN(f.pdq, HashFromBytea(r.Text(i, 10), id));
          if (f.pdq_trimmed) {
            KAGAMI_ASSIGN_OR_RETURN(f.pdq_trimmed, HashFromBytea(r.Text(i, 11), id));
          }
          if (f.pdq_center) {
            KAGAMI_ASSIGN_OR_RETURN(f.pdq_center, HashFromBytea(r.Text(i, 12), id));
          }
          if (f.pdq_core) {
            KAGAMI_ASSIGN_OR_RETURN(f.pdq_core, HashFromBytea(r.Text(i, 13), id));
          }
        }
        fn(id, r.Int(i, 1), f);
        after = id;
      }
      if (r.size() < kReadPage) return Status::Ok();
    }
  }

  Result<FrameStats> GetFrameStats(int min_quality, int64_t max_frame_id) override {
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r,
        conn_->Exec(
            "SELECT count(*), coalesce(sum(v), 0), coalesce(max(id), 0) FROM (SELECT id, "
            "(quality >= $1)::int + (pdq_trimmed IS NOT NULL AND trimmed_quality >= $1)"
            "::int + (pdq_center IS NOT NULL AND center_quality >= $1)::int + (pdq_core IS NOT "
            "NULL AND core_quality >= $1)::int AS v FROM "
            "video_frames WHERE id <= $2) f WHERE v > 0",
            {min_quality, max_frame_id}));
    return FrameStats{r.Int(0, 0), r.Int(0, 1), r.Int(0, 2)};
  }

  Result<VideoAssetRef> GetAsset(int64_t asset_id) override {
    std::string what = What("reading video asset");
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r, conn_->Exec("SELECT a.work_id, w.title, a.path, a.sha256, v.duration_s FROM "
                              "assets a JOIN works w ON w.id = a.work_id JOIN video_assets v ON "
                              "v.asset_id = a.id WHERE a.id = $1",
                              {asset_id}));
    if (r.empty()) return Status::NotFound(what + ": no video asset " + std::to_string(asset_id));
    VideoAssetRef ref;
    ref.asset_id = asset_id;
    ref.work_id = r.Text(0, 0);
    ref.title = r.Text(0, 1);
    ref.path = r.Text(0, 2);
    ref.sha256 = r.Text(0, 3);
    ref.duration_s = r.Double(0, 4);
    return ref;
  }

  Status ForEachAudio(const std::function<void(int64_t, double, double,
                                               const std::vector<uint32_t>&)>& fn) override {
    int64_t after = 0;
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(
          PgRows r, conn_->Exec("SELECT asset_id, item_s, start_s, fingerprint FROM "
                                "audio_fingerprints WHERE asset_id > $1 ORDER BY asset_id LIMIT 64",
                                {after}));
      for (int i = 0; i < r.size(); ++i) {
        after = r.Int(i, 0);
        KAGAMI_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, FromBytea(r.Text(i, 3)));
        fn(after, r.Double(i, 1), r.Double(i, 2), AudioFromBlob(blob));
      }
      if (r.size() < 64) return Status::Ok();
    }
  }

  Result<std::vector<std::string>> ListVideoAssetSha256s() override {
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows r, conn_->Exec("SELECT a.sha256 FROM assets a JOIN video_assets v ON v.asset_id = "
                              "a.id ORDER BY a.sha256 COLLATE \"C\""));
    std::vector<std::string> out;
    out.reserve(r.size());
    for (int i = 0; i < r.size(); ++i) out.push_back(r.Text(i, 0));
    return out;
  }

  Result<std::optional<VideoAssetRecord>> GetVideoAsset(const std::string& sha256_hex) override {
    std::optional<std::string> sha = NormalizeSha256(sha256_hex);
    if (!sha) return Status::InvalidArgument("'" + sha256_hex + "' is not a SHA-256");
    KAGAMI_ASSIGN_OR_RETURN(
        PgRows a,
        conn_->Exec("SELECT a.id, a.work_id, a.path, a.sha256, a.size_bytes, a.media_type, "
                    "v.duration_s, v.width, v.height, v.container, v.video_codec, v.audio_codec "
                    "FROM assets a JOIN video_assets v ON v.asset_id = a.id WHERE a.sha256 = $1",
                    {*sha}));
    if (a.empty()) return std::optional<VideoAssetRecord>();
    const int64_t asset_id = a.Int(0, 0);
    VideoAssetRecord r;
    r.asset.work_id = a.Text(0, 1);
    r.asset.path = a.Text(0, 2);
    r.asset.sha256_hex = a.Text(0, 3);
    r.asset.size_bytes = static_cast<uint64_t>(a.Int(0, 4));
    r.asset.media_type = a.Text(0, 5);
    r.duration_s = a.Double(0, 6);
    r.width = static_cast<int>(a.Int(0, 7));
    r.height = static_cast<int>(a.Int(0, 8));
    r.container = a.Text(0, 9);
    r.video_codec = a.Text(0, 10);
    r.audio_codec = a.Text(0, 11);
    int64_t after = 0;
    while (true) {
      KAGAMI_ASSIGN_OR_RETURN(
          PgRows f,
          conn_->Exec("SELECT id, t, pdq, quality, pdq_trimmed, trimmed_quality, "
                      "pdq_center, center_quality, pdq_core, core_quality FROM video_frames WHERE "
                      "asset_id = $1 "
                      "AND id > $2 ORDER BY id LIMIT $3",
                      {asset_id, after, kReadPage}));
      for (int i = 0; i < f.size(); ++i) {
        after = f.Int(i, 0);
        FrameRecord frame;
        frame.t = f.Double(i, 1);
        KAGAMI_ASSIGN_OR_RETURN(frame.pdq, HashFromBytea(f.Text(i, 2), after));
        frame.quality = static_cast<int>(f.Int(i, 3));
        if (!f.IsNull(i, 4)) {
          KAGAMI_ASSIGN_OR_RETURN(frame.pdq_trimmed, HashFromBytea(f.Text(i, 4), after));
        }
        frame.trimmed_quality = static_cast<int>(f.Int(i, 5));
        if (!f.IsNull(i, 6)) {
          KAGAMI_ASSIGN_OR_RETURN(frame.pdq_center, HashFromBytea(f.Text(i, 6), after));
        }
        frame.center_quality = static_cast<int>(f.Int(i, 7));
        if (!f.IsNull(i, 8)) {
          KAGAMI_ASSIGN_OR_RETURN(frame.pdq_core, HashFromBytea(f.Text(i, 8), after));
        }
        frame.core_quality = static_cast<int>(f.Int(i, 9));
        r.frames.push_back(frame);
      }
      if (f.size() < kReadPage) break;
    }
    KAGAMI_ASSIGN_OR_RETURN(PgRows au, conn_->Exec("SELECT item_s, start_s, fingerprint FROM "
                                                   "audio_fingerprints WHERE asset_id = $1",
                                                   {asset_id}));
    if (!au.empty()) {
      r.audio_item_s = au.Double(0, 0);
      r.audio_start_s = au.Double(0, 1);
      KAGAMI_ASSIGN_OR_RETURN(std::vector<uint8_t> blob, FromBytea(au.Text(0, 2)));
      r.audio = AudioFromBlob(blob);
    }
    return std::optional<VideoAssetRecord>(std::move(r));
  }

 private:
  std::string What(std::string_view operation) const {
    return internal::PgCatalogWhat(*conn_, operation);
  }

  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

Result<std::unique_ptr<VideoCatalog>> OpenPgVideoCatalog(const std::string& conninfo) {
  KAGAMI_ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, PgConnection::Connect(conninfo));
  KAGAMI_RETURN_IF_ERROR(internal::MigratePgCatalog(*conn));
  return std::unique_ptr<VideoCatalog>(new PgVideoCatalog(std::move(conn)));
}

}  // namespace kagami::index
