#include "kagami/pipeline/video_pipeline.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "kagami/base/sha256.h"
#include "kagami/ingest/video_decoder.h"
#include "kagami/ingest/volume.h"

namespace kagami::pipeline {
namespace {

std::string MediaTypeFor(const std::string& path, const ingest::VideoInfo& info) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".m3u8") return "application/vnd.apple.mpegurl";
  const std::string& c = info.container;
  if (c.find("mp4") != std::string::npos) return "video/mp4";
  if (c.find("matroska") != std::string::npos)
    return ext == ".webm" ? "video/webm" : "video/x-matroska";
  if (c == "avi") return "video/x-msvideo";
  if (c == "mpegts") return "video/mp2t";
  if (c == "flv") return "video/x-flv";
  if (c == "hls") return "application/vnd.apple.mpegurl";
  return "video/" + (c.empty() ? std::string("unknown") : c.substr(0, c.find(',')));
}

fingerprint::VideoFingerprintOptions FingerprintOptions(const VideoOptions& o, double rate) {
  fingerprint::VideoFingerprintOptions f;
  f.decode.frame_rate = rate;
  f.decode.threads = o.decoder_threads;
  f.fetcher = o.fetcher;
  f.decode.live = o.live;
  return f;
}

bool IsUrl(const std::string& path) {
  return path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0;
}

// The sampled frames of a stream read over http(s), within a byte budget
// (VideoOptions::evidence_frames_max_bytes).
class EvidenceFrames {
 public:
  struct Kept {
    double t = 0;
    int64_t byte_pos = -1;
    cv::Mat gray;
  };

  explicit EvidenceFrames(size_t max_bytes) : max_bytes_(max_bytes) {}

  void Add(const ingest::VideoFrame& f) {
    if ((seen_++ % stride_) != 0) return;
    if (f.gray.empty()) return;
    bytes_ += f.gray.total();
    frames_.push_back({f.t, f.byte_pos, f.gray.clone()});
    while (bytes_ > max_bytes_ && frames_.size() > 1) {  // thin out evenly
      std::vector<Kept> half;
      bytes_ = 0;
      for (size_t i = 0; i < frames_.size(); i += 2) {
        bytes_ += frames_[i].gray.total();
        half.push_back(std::move(frames_[i]));
      }
      frames_ = std::move(half);
      stride_ *= 2;
    }
  }

  // The kept frame at `t` if there is one, else the one nearest `middle`
  // within [start, end]; nullptr when none lies there.
  const Kept* Pick(double t, double middle, double start, double end) const {
    const Kept* best = nullptr;
    for (const Kept& k : frames_) {
      if (t >= 0 && std::abs(k.t - t) < 1e-6) return &k;
      if (k.t < start - 1e-6 || k.t > end + 1e-6) continue;
      if (best == nullptr || std::abs(k.t - middle) < std::abs(best->t - middle)) best = &k;
    }
    return best;
  }

 private:
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t seen_ = 0, stride_ = 1;
  std::vector<Kept> frames_;
};

}  // namespace

bool IsVideoInput(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return false;
  return ingest::LooksLikeVideo(path);
}

namespace {

struct FolderVideos {
  std::vector<std::string> videos;  // relative generic paths
  bool has_pages = false;
  uint32_t files_seen = 0;
};

void FindVideos(const std::filesystem::path& root, const std::filesystem::path& dir, int depth,
                const ingest::IngestLimits& limits, FolderVideos& out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (name.empty() || name[0] == '.' || name == "__MACOSX") continue;
    std::error_code type_ec;
    if (it->is_symlink(type_ec) && it->is_directory(type_ec)) continue;  // never enter links
    if (it->is_directory(type_ec)) {
      if (depth < limits.max_folder_depth) FindVideos(root, path, depth + 1, limits, out);
      continue;
    }
    if (!it->is_regular_file(type_ec)) continue;
    if (++out.files_seen > limits.max_folder_files) return;
    if (ingest::LooksLikeVideo(path.string())) {
      out.videos.push_back(path.lexically_relative(root).generic_string());
    } else if (!out.has_pages) {
      std::ifstream in(path, std::ios::binary);
      unsigned char head[4096];
      in.read(reinterpret_cast<char*>(head), sizeof head);
      out.has_pages = ingest::SniffMediaKind(head, static_cast<size_t>(in.gcount()), nullptr) !=
                      ingest::MediaKind::kUnknown;
    }
    if (out.files_seen > limits.max_folder_files) return;
  }
}

}  // namespace

std::vector<std::string> WithFolderVideos(const std::vector<std::string>& paths,
                                          const ingest::IngestLimits& limits) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0 ||
        !std::filesystem::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    FolderVideos found;
    FindVideos(path, path, 1, limits, found);
    if (found.videos.empty() || found.has_pages || found.files_seen > limits.max_folder_files) {
      out.push_back(path);  // ExpandInputs reports a folder over the file limit
    }
    if (found.files_seen > limits.max_folder_files) continue;
    std::sort(found.videos.begin(), found.videos.end(), ingest::NaturalLess);
    for (const std::string& video : found.videos) {
      out.push_back((std::filesystem::path(path) / video).string());
    }
  }
  return out;
}

namespace {

// The videos of `store`'s catalog: the embedded one in its data directory, or
// the shared (PostgreSQL) one, whose frame index a registering process does
// not load.
Result<std::unique_ptr<index::VideoStore>> OpenVideos(index::Store& store, bool registering) {
  index::VideoStoreOptions options;
  options.catalog_conninfo = store.catalog_conninfo();
  options.load_index = !registering;
  return index::VideoStore::Open(store.data_dir(), options);
}

}  // namespace

Status RegisterVideos(index::Store& store, const index::Work& work,
                      const std::vector<std::string>& paths, const VideoOptions& options,
                      const ingest::IngestLimits& limits, RegisterSummary& summary) {
  if (paths.empty()) return Status::Ok();
  KAGAMI_ASSIGN_OR_RETURN(auto videos, OpenVideos(store, /*registering=*/true));
  std::set<std::string> seen;
  for (const std::string& path : paths) {
    ++summary.volumes;
    auto fail = [&](const Status& s) { summary.errors.push_back({path, "", s}); };
    if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) {
      fail(Status::Unsupported(path +
                               ": registering over HTTP is not supported; pass a local file"));
      continue;
    }
    Result<std::string> sha = kagami::Sha256HexFile(path);
    if (!sha.ok()) {
      fail(sha.status());
      continue;
    }
    auto existing = store.catalog().FindAssetBySha256(*sha);
    if (!existing.ok()) return existing.status();
    if (existing->has_value() || !seen.insert(*sha).second) {
      ++summary.assets_skipped;
      continue;
    }
    auto fp = fingerprint::FingerprintVideo(
        path, FingerprintOptions(options, options.register_frame_rate), limits);
    if (!fp.ok()) {
      fail(fp.status());
      continue;
    }
    index::VideoAssetRecord record;
    record.asset.work_id = work.id;
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    record.asset.path = ec ? path : absolute.lexically_normal().string();
    record.asset.sha256_hex = *sha;
    record.asset.size_bytes = std::filesystem::file_size(path, ec);
    record.asset.media_type = MediaTypeFor(path, fp->info);
    record.duration_s = fp->info.duration_s;
    record.width = fp->info.width;
    record.height = fp->info.height;
    record.container = fp->info.container;
    record.video_codec = fp->info.video_codec;
    record.audio_codec = fp->info.audio_codec;
    for (const fingerprint::FrameFingerprint& f : fp->frames) {
      index::FrameRecord r;
      r.t = f.t;
      r.pdq = f.full.hash;
      r.quality = f.full.quality;
      if (f.trimmed) {
        r.pdq_trimmed = f.trimmed->hash;
        r.trimmed_quality = f.trimmed->quality;
      }
      r.pdq_center = f.center.hash;
      r.center_quality = f.center.quality;
      r.pdq_core = f.core.hash;
      r.core_quality = f.core.quality;
      record.frames.push_back(r);
    }
    record.audio = fp->audio.values;
    record.audio_item_s = fp->audio.item_s;
    record.audio_start_s = fp->audio.start_s;
    if (record.frames.empty() && record.audio.empty()) {
      fail(Status::Corrupt(path + ": no frame and no audio could be fingerprinted"));
      continue;
    }
    auto added = videos->AddVideoAsset(record);
    if (!added.ok()) {
      if (added.status().code() == StatusCode::kIoError ||
          added.status().code() == StatusCode::kCorrupt ||
          added.status().code() == StatusCode::kResourceExhausted) {
        KAGAMI_RETURN_IF_ERROR(videos->SaveIndex());
        return added.status();
      }
      fail(added.status());
      continue;
    }
    ++summary.assets_added;
    for (const index::FrameRecord& r : record.frames) {
      ++summary.units_added;
      if (r.quality < index::VideoStore::kMinIndexQuality &&
          r.trimmed_quality < index::VideoStore::kMinIndexQuality) {
        ++summary.units_low_quality;
      }
    }
  }
  return videos->SaveIndex();
}

namespace {

VolumeReport ScanOne(index::VideoStore& videos, const index::AudioIndex& audio_index,
                     const std::string& path, const VideoOptions& options,
                     const ingest::IngestLimits& limits) {
  VolumeReport report;
  report.source = path;
  report.video = true;
  fingerprint::VideoFingerprintOptions fo = FingerprintOptions(options, options.scan_frame_rate);
  EvidenceFrames kept(options.evidence_frames_max_bytes);
  if (IsUrl(path)) fo.on_frame = [&kept](const ingest::VideoFrame& f) { kept.Add(f); };
  auto fp = fingerprint::FingerprintVideo(path, fo, limits);
  if (!fp.ok()) {
    report.verdict = Verdict::kError;
    report.status = fp.status();
    return report;
  }
  report.duration_s = fp->info.duration_s;
  report.content_sha256 = fp->info.content_sha256;
  report.pages = static_cast<int>(fp->frames.size());
  std::vector<double> query_times;
  std::vector<fingerprint::Hash256> queries;
  std::vector<std::pair<size_t, bool>> query_of;  // (frame, mirrored) per query hash
  for (size_t i = 0; i < fp->frames.size(); ++i) {
    const fingerprint::FrameFingerprint& f = fp->frames[i];
    ++report.pages_hashed;
    int quality = std::max(f.full.quality, f.trimmed ? f.trimmed->quality : 0);
    if (quality < options.min_query_quality) {
      ++report.pages_low_quality;
      continue;
    }
    query_times.push_back(f.t);
    queries.push_back(f.full.hash);
    query_of.emplace_back(i, false);
    queries.push_back(f.full_mirror);
    query_of.emplace_back(i, true);
    if (f.trimmed) {
      queries.push_back(f.trimmed->hash);
      query_of.emplace_back(i, false);
      queries.push_back(*f.trimmed_mirror);
      query_of.emplace_back(i, true);
    }
    if (options.core_view && f.core.quality >= options.min_query_quality) {
      queries.push_back(f.core.hash);
      query_of.emplace_back(i, false);
      queries.push_back(f.core_mirror);
      query_of.emplace_back(i, true);
    }
  }
  std::vector<index::FrameMatch> matches;
  if (!queries.empty() && videos.frame_index().size() > 0) {
    auto searched = videos.frame_index().RangeSearch(queries, options.frame_radius);
    if (!searched.ok()) {
      report.verdict = Verdict::kError;
      report.status = searched.status().WithContext(path);
      return report;
    }
    const std::vector<std::vector<index::IndexHit>>& hits = *searched;
    // Per (query frame, registered frame): the best distance over the views.
    std::map<std::pair<size_t, int64_t>, index::FrameMatch> best;
    for (size_t q = 0; q < hits.size(); ++q) {
      size_t n = std::min(hits[q].size(), options.max_hits_per_frame);
      for (size_t h = 0; h < n; ++h) {
        auto ref = videos.GetFrame(hits[q][h].unit_id);
        if (!ref) continue;
        auto key = std::make_pair(query_of[q].first, hits[q][h].unit_id);
        auto it = best.find(key);
        if (it != best.end() && it->second.distance <= hits[q][h].distance) continue;
        index::FrameMatch m;
        m.asset_id = ref->asset_id;
        m.tq = fp->frames[query_of[q].first].t;
        m.tr = ref->t;
        m.distance = hits[q][h].distance;
        m.mirrored = query_of[q].second;
        best[key] = m;
      }
    }
    for (auto& [key, m] : best) matches.push_back(m);
  }
  std::vector<index::Segment> segments =
      index::FindVideoSegments(std::move(matches), query_times, options.segments);
  std::vector<index::Segment> audio_segments;
  if (!fp->audio.values.empty()) {
    audio_segments =
        audio_index.Match(fp->audio.values, fp->audio.item_s, fp->audio.start_s, options.segments);
  }
  segments = index::MergeModalities(std::move(segments), std::move(audio_segments));

  std::map<std::string, WorkResult> works;
  for (const index::Segment& s : segments) {
    auto ref = videos.GetAsset(s.asset_id);
    if (!ref.ok()) {
      report.errors.push_back({path, "", ref.status()});
      continue;
    }
    VideoSegmentMatch match;
    match.segment = s;
    match.ref = *ref;
    double len = std::max(0.0, s.end - s.start);
    match.coverage = report.duration_s > 0 ? std::min(1.0, len / report.duration_s) : 0;
    match.ref_coverage =
        ref->duration_s > 0 ? std::min(1.0, (s.ref_end - s.ref_start) / ref->duration_s) : 0;
    if (IsUrl(path)) {
      const double middle = (s.start + s.end) / 2;
      if (const EvidenceFrames::Kept* k = kept.Pick(s.query_match_t, middle, s.start, s.end)) {
        pipeline::VideoEvidenceFrame e;
        e.t = k->t;
        const double span = s.end - s.start;
        e.ref_t = std::abs(k->t - s.query_match_t) < 1e-6 ? s.ref_match_t
                  : span > 0 ? s.ref_start + (k->t - s.start) * (s.ref_end - s.ref_start) / span
                             : s.ref_start;
        e.gray = k->gray;
        if (const ingest::StreamPiece* piece = ingest::PieceAt(fp->info.pieces, k->byte_pos)) {
          e.piece_url = piece->url;
          e.piece_sha256 = piece->sha256;
          e.piece_sequence = piece->sequence;
        }
        match.query_frame = std::move(e);
      }
    }
    WorkResult& w = works[ref->work_id];
    w.tally.work_id = ref->work_id;
    w.title = ref->title;
    w.tally.matched_pages += s.matched_frames;
    w.tally.required_pages = options.segments.min_frames;
    w.tally.matched = true;
    report.segments.push_back(std::move(match));
  }
  for (auto& [id, w] : works) report.works.push_back(std::move(w));
  std::sort(report.works.begin(), report.works.end(), [](const WorkResult& a, const WorkResult& b) {
    return a.tally.matched_pages > b.tally.matched_pages;
  });
  report.verdict = report.segments.empty() ? Verdict::kNoMatch : Verdict::kMatch;
  if (fp->info.decode_errors > 0) {
    report.errors.push_back(
        {path, "",
         Status::Corrupt(std::to_string(fp->info.decode_errors) + " damaged packets skipped")});
  }
  if (fp->info.live) {
    std::string what = "live playlist read for " + std::to_string(fp->info.pieces.size()) +
                       " pieces, " + std::to_string(fp->info.live_reloads) +
                       " reloads, stopped: " + fp->info.live_stop;
    if (fp->info.live_segments_missed > 0) {
      what += "; " + std::to_string(fp->info.live_segments_missed) +
              " segments left the playlist before they were read";
    }
    if (fp->info.truncated) report.errors.push_back({path, "", Status::ResourceExhausted(what)});
  } else if (fp->info.truncated) {
    report.errors.push_back(
        {path, "", Status::ResourceExhausted("stopped at the media duration limit")});
  }
  return report;
}

}  // namespace

Status ScanVideos(index::Store& store, const std::vector<std::string>& paths,
                  const VideoOptions& options, const ingest::IngestLimits& limits,
                  const std::function<void(const VolumeReport&)>& on_volume) {
  if (paths.empty()) return Status::Ok();
  KAGAMI_ASSIGN_OR_RETURN(auto videos, OpenVideos(store, /*registering=*/false));
  index::AudioIndex audio_index;
  KAGAMI_RETURN_IF_ERROR(videos->ForEachAudio(
      [&](int64_t asset, double item_s, double start_s, const std::vector<uint32_t>& values) {
        audio_index.Add(asset, item_s, start_s, values);
      }));
  for (const std::string& path : paths) {
    VolumeReport report = ScanOne(*videos, audio_index, path, options, limits);
    if (on_volume) on_volume(report);
  }
  return Status::Ok();
}

}  // namespace kagami::pipeline
