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

// Registered videos: the catalog's `assets` rows plus three tables of their own
// (additive schema: video_assets, video_frames, audio_fingerprints, created if
// missing; the page tables are not touched), on its own SQLite connection to
// the same catalog.sqlite (WAL), and a frame index `frames.index` beside
// pdq.index.
//
// Why a separate frame index: frames are matched by temporal voting with their
// own radius and thresholds (segment_matcher.h); keeping them out of pdq.index
// leaves page verdicts, page scan cost and Store's stale-index check exactly as
// they were, and a frame hit never needs a units-table lookup. The frame index
// holds each frame's full hash, its central-crop hash, its core hash (frames
// registered since the `pdq_core` column was added; older catalogs get the
// column, empty, on open) and, when bars were trimmed, its trimmed hash, each
// when its quality is >= kMinIndexQuality; it is rebuilt from the catalog
// when missing, corrupt or stale (count and max frame id), like pdq.index.
//
// Audio fingerprints are kept per asset as one blob and searched from an
// in-memory inverted index built at scan time (AudioIndex in segment_matcher.h).
//
// Thread-compatible: use from one thread or lock externally.
class VideoStore {
 public:
  static constexpr int kMinIndexQuality = 30;

  // `data_dir` must hold a catalog created by Store::Open.
  static Result<std::unique_ptr<VideoStore>> Open(const std::filesystem::path& data_dir);
  ~VideoStore();

  // One transaction: the asset row (work must exist; sha256 must be new), its
  // video row, frames and audio. Then the indexable frames go into the frame
  // index (SaveIndex() persists it).
  Result<int64_t> AddVideoAsset(const VideoAssetRecord& record);
  Status SaveIndex();

  const PdqIndex& frame_index() const { return *frame_index_; }
  // Asset and time of an indexed frame id; nullopt if unknown.
  std::optional<FrameRef> GetFrame(int64_t frame_id) const;
  Result<VideoAssetRef> GetAsset(int64_t asset_id);
  // fn(asset_id, item_s, start_s, values) for each registered audio fingerprint.
  Status ForEachAudio(
      const std::function<void(int64_t, double, double, const std::vector<uint32_t>&)>& fn);
  int64_t frame_count() const;

  static constexpr const char* kIndexFileName = "frames.index";
  static constexpr size_t kMaxFramesPerAsset = 1'000'000;

 private:
  struct Impl;
  explicit VideoStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<PdqIndex> frame_index_;
};

}  // namespace kagami::index
