#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/hash256.h"
#include "kagami/index/catalog.h"
#include "kagami/index/pdq_index.h"

namespace kagami::index {

// One sampled frame of a registered video.
struct FrameRecord {
  double t = 0;  // seconds
  fingerprint::Hash256 pdq;
  int quality = 0;
  std::optional<fingerprint::Hash256> pdq_trimmed;  // bars trimmed, when there were any
  int trimmed_quality = 0;
  std::optional<fingerprint::Hash256> pdq_center;  // central 90% of the content
  int center_quality = 0;
  // The core view, clear of corner logos and subtitles (fingerprint::CoreRect);
  // absent in frames registered before it existed.
  std::optional<fingerprint::Hash256> pdq_core;
  int core_quality = 0;
};

struct VideoAssetRecord {
  AssetRecord asset;
  double duration_s = 0;
  int width = 0, height = 0;
  std::string container, video_codec, audio_codec;
  std::vector<FrameRecord> frames;
  std::vector<uint32_t> audio;  // Chromaprint raw fingerprint, may be empty
  double audio_item_s = 0;
  double audio_start_s = 0;
};

// What a segment report needs to name a registered video.
struct VideoAssetRef {
  int64_t asset_id = 0;
  std::string work_id;
  std::string title;
  std::string path;
  std::string sha256;
  double duration_s = 0;
};

// Where an indexed frame hash lies.
struct FrameRef {
  int64_t asset_id = 0;
  double t = 0;
};

// Where the registered videos are stored: the backend seam of VideoStore.
// Two implementations with the same semantics: SQLite (the catalog.sqlite of
// a data directory, OpenSqliteVideoCatalog) and PostgreSQL (the catalog
// shared by many machines, OpenPgVideoCatalog). Both keep the catalog's
// `assets` row of each video (so that `works`, idempotency by SHA-256 and
// the work foreign key are the page catalog's) plus three tables of their
// own: video_assets, video_frames, audio_fingerprints (SQLite: created if
// missing; PostgreSQL: migration 2 of the "catalog" schema component,
// pg_catalog.h). Additive: the page tables are not touched.
//
// Frame ids become visible in ascending order (PostgreSQL: inserts take the
// catalog's insert advisory lock to COMMIT), so the largest frame id read
// is a sound high-water mark for a node's cached frame index.
//
// Not thread-safe (one connection): one VideoCatalog per thread.
class VideoCatalog {
 public:
  virtual ~VideoCatalog();
  // "sqlite" or "postgresql".
  virtual std::string_view backend() const = 0;
  bool shared() const { return backend() != "sqlite"; }
  // Identifies the database (as Catalog::Identity), recorded beside a cache.
  virtual Result<std::string> Identity() = 0;

  // One transaction: the asset row (work must exist, kNotFound otherwise;
  // sha256 must be new, kInvalidArgument otherwise), its video row, frames
  // and audio. On any error nothing is written. `frame_ids` (optional)
  // receives the frames' ids in the order of record.frames (ascending).
  virtual Result<int64_t> AddVideoAsset(const VideoAssetRecord& record,
                                        std::vector<int64_t>* frame_ids) = 0;

  // fn(frame_id, asset_id, frame) for every frame with id > after_frame_id,
  // in id order. Without `hashes` only t and the qualities are read, and an
  // optional view is set (to a zero hash) when the frame has it.
  virtual Status ForEachFrame(
      int64_t after_frame_id, bool hashes,
      const std::function<void(int64_t, int64_t, const FrameRecord&)>& fn) = 0;

  // What a frame index made from the frames with id <= max_frame_id must hold.
  struct FrameStats {
    int64_t indexed_frames = 0;  // frames with at least one hash of quality >= min_quality
    int64_t views = 0;           // their hashes of quality >= min_quality
    int64_t max_indexed = 0;     // the largest id among them (0: none)
  };
  virtual Result<FrameStats> GetFrameStats(int min_quality, int64_t max_frame_id) = 0;

  virtual Result<VideoAssetRef> GetAsset(int64_t asset_id) = 0;
  // fn(asset_id, item_s, start_s, values) for each registered audio fingerprint.
  virtual Status ForEachAudio(
      const std::function<void(int64_t, double, double, const std::vector<uint32_t>&)>& fn) = 0;

  // For copying and verifying between backends (`kagami store migrate`):
  // the content hashes of the video assets, ascending, and one video asset as
  // stored (frames in id order); nullopt when not registered.
  virtual Result<std::vector<std::string>> ListVideoAssetSha256s() = 0;
  virtual Result<std::optional<VideoAssetRecord>> GetVideoAsset(const std::string& sha256_hex) = 0;

 protected:
  VideoCatalog() = default;
};

// The SQLite video tables of the catalog at `catalog_path` (created by
// Store::Open), on their own connection (WAL); creates the tables if missing.
Result<std::unique_ptr<VideoCatalog>> OpenSqliteVideoCatalog(
    const std::filesystem::path& catalog_path);
// The PostgreSQL video tables (pg_video_store.cc); applies the catalog
// schema migrations first.
Result<std::unique_ptr<VideoCatalog>> OpenPgVideoCatalog(const std::string& conninfo);

// SHA-256 (hex) over a video asset's stored content: asset record, video
// fields, every frame (times, hashes, qualities) in order, and the audio
// fingerprint. Ids and timestamps are not part of it, so a copy in another
// backend has the same digest.
std::string VideoAssetDigest(const VideoAssetRecord& record);

struct VideoStoreOptions {
  // "" for the SQLite catalog of the data directory (the default), else a
  // PostgreSQL conninfo: the videos of the catalog shared by many machines,
  // the data directory then keeping only this node's frame index cache.
  std::string catalog_conninfo;
  // Shared catalogs: whether to load the frame index. A registering node
  // (false) never reads the whole catalog; its frame_index() stays empty.
  bool load_index = true;
};

// What a frame index load or refresh did (VideoStore::last_refresh()).
struct FrameIndexRefresh {
  bool full_rebuild = false;  // rebuilt from every frame of the catalog
  int64_t frames_read = 0;    // frames read from the catalog (above the mark)
  int64_t hashes_added = 0;
  int64_t high_water = 0;  // the largest frame id read so far
};

// Registered videos (a VideoCatalog) plus the frame index used to match them.
//
// Why a separate frame index: frames are matched by temporal voting with their
// own radius and thresholds (segment_matcher.h); keeping them out of pdq.index
// leaves page verdicts, page scan cost and Store's stale-index check exactly as
// they were, and a frame hit never needs a units-table lookup. The frame index
// holds each frame's full hash, its central-crop hash, its core hash (frames
// registered since the `pdq_core` column was added; older catalogs get the
// column, empty, on open) and, when bars were trimmed, its trimmed hash, each
// when its quality is >= kMinIndexQuality.
//
// Embedded (SQLite) store: `frames.index` beside pdq.index, rebuilt from the
// catalog when missing, corrupt or stale (count and max frame id); the frame
// locations are read from the catalog at open.
//
// Shared (PostgreSQL) store: each node keeps a cache in its data directory,
// `frames-shared.index` (the hashes) and `frames-shared.map` (the catalog's
// identity, the high-water mark, and every indexed frame's asset and time).
// Open loads the cache, checks it against the catalog up to the mark, and
// reads only the frames above the mark (Refresh); it is rebuilt from the
// whole catalog when missing, damaged, made for another catalog or
// inconsistent. The cache is saved (under the data directory's writer.lock,
// index first, map last) after anything new was read. Registration
// (AddVideoAsset) writes to the catalog only; other nodes see the frames at
// their next Open or Refresh.
//
// Audio fingerprints are kept per asset as one blob and searched from an
// in-memory inverted index built at scan time (AudioIndex in segment_matcher.h).
//
// Thread-compatible: use from one thread or lock externally.
class VideoStore {
 public:
  static constexpr int kMinIndexQuality = 30;

  // `data_dir` must hold a catalog created by Store::Open (SQLite), or be a
  // shared catalog's cache directory (created if missing).
  static Result<std::unique_ptr<VideoStore>> Open(const std::filesystem::path& data_dir,
                                                  const VideoStoreOptions& options = {});
  ~VideoStore();

  // Adds the asset to the catalog (VideoCatalog::AddVideoAsset). Embedded
  // store: then the indexable frames go into the frame index (SaveIndex()
  // persists it). Shared store: the catalog only.
  Result<int64_t> AddVideoAsset(const VideoAssetRecord& record);
  Status SaveIndex();

  // Shared store: reads the frames registered since the high-water mark into
  // the frame index (nothing for an embedded store or with load_index false).
  // SaveIndex() or the next Open persists the cache.
  Result<FrameIndexRefresh> Refresh();
  const FrameIndexRefresh& last_refresh() const { return last_refresh_; }
  int64_t full_rebuilds() const { return full_rebuilds_; }
  bool shared() const;

  const PdqIndex& frame_index() const { return *frame_index_; }
  // Asset and time of an indexed frame id; nullopt if unknown.
  std::optional<FrameRef> GetFrame(int64_t frame_id) const;
  Result<VideoAssetRef> GetAsset(int64_t asset_id);
  // fn(asset_id, item_s, start_s, values) for each registered audio fingerprint.
  Status ForEachAudio(
      const std::function<void(int64_t, double, double, const std::vector<uint32_t>&)>& fn);
  // Frames with a known location: every frame (embedded store), the indexed
  // ones (shared store).
  int64_t frame_count() const;
  VideoCatalog& catalog();

  static constexpr const char* kIndexFileName = "frames.index";
  static constexpr const char* kSharedIndexFileName = "frames-shared.index";
  static constexpr const char* kSharedMapFileName = "frames-shared.map";
  static constexpr size_t kMaxFramesPerAsset = 1'000'000;

 private:
  struct Impl;
  explicit VideoStore(std::unique_ptr<Impl> impl);
  Status OpenEmbedded();
  Status OpenShared();
  // Adds a frame's indexable views to the frame index; returns how many.
  Result<int> IndexFrame(int64_t frame_id, const FrameRecord& frame);
  Status SaveSharedCache();
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<PdqIndex> frame_index_;
  FrameIndexRefresh last_refresh_;
  int64_t full_rebuilds_ = 0;
};

}  // namespace kagami::index
