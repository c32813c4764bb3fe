#include "kagami/fingerprint/video_fingerprint.h"

#include <chromaprint.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "kagami/fingerprint/page_normalizer.h"

namespace kagami::fingerprint {
namespace {

struct ChromaprintCloser {
  void operator()(ChromaprintContext* c) const { chromaprint_free(c); }
};
using ChromaprintPtr = std::unique_ptr<ChromaprintContext, ChromaprintCloser>;

// Letterbox and pillarbox bars that stay still over a stream: the outer rows
// (columns) that were flat (standard deviation <= kFlatStd gray levels) and at
// one level (mean within kLevelSpread) in every sampled frame so far. Unlike a
// per-frame trim (page_normalizer.h), which cannot tell black bars from the
// dark edge of a night scene, content rows move at some point over a stream
// while bars never do. Not thread-safe.
class StableBars {
 public:
  // Restarts when the frame size changes (a new variant of a stream).
  void Add(const cv::Mat& gray) {
    if (gray.size() != size_) {
      size_ = gray.size();
      rows_.assign(gray.rows, Line{});
      cols_.assign(gray.cols, Line{});
      frames_ = 0;
    }
    ++frames_;
    std::vector<double> col_sum(gray.cols, 0), col_sq(gray.cols, 0);
    for (int y = 0; y < gray.rows; ++y) {
      const uint8_t* p = gray.ptr<uint8_t>(y);
      double sum = 0, sq = 0;
      for (int x = 0; x < gray.cols; ++x) {
        const double v = p[x];
        sum += v;
        sq += v * v;
        col_sum[x] += v;
        col_sq[x] += v * v;
      }
      rows_[y].Add(sum, sq, gray.cols);
    }
    for (int x = 0; x < gray.cols; ++x) cols_[x].Add(col_sum[x], col_sq[x], gray.rows);
  }

  int frames() const { return frames_; }

  // The rect inside the bars (the whole frame when there are none, or when
  // "bars" would leave less than 30% of an extent: a stream that never
  // moved, e.g. a fade to black).
  cv::Rect Content() const {
    const cv::Rect full(0, 0, size_.width, size_.height);
    if (frames_ == 0) return full;
    auto [top, bottom] = Bars(rows_);
    auto [left, right] = Bars(cols_);
    if (top + bottom > size_.height * 7 / 10) top = bottom = 0;
    if (left + right > size_.width * 7 / 10) left = right = 0;
    return cv::Rect(left, top, size_.width - left - right, size_.height - top - bottom);
  }

 private:
  static constexpr double kFlatStd = 4.0;
  static constexpr double kLevelSpread = 8.0;
  struct Line {
    double min_mean = 1e9, max_mean = -1e9, max_std = 0;
    void Add(double sum, double sq, int n) {
      const double mean = sum / n;
      const double var = std::max(0.0, sq / n - mean * mean);
      min_mean = std::min(min_mean, mean);
      max_mean = std::max(max_mean, mean);
      max_std = std::max(max_std, std::sqrt(var));
    }
    bool Bar() const { return max_std <= kFlatStd && max_mean - min_mean <= kLevelSpread; }
  };
  // Leading and trailing bar lines; bars thinner than max(4, 2%) are ignored
  // (an encoder's edge rows), and both ends must be at one level.
  static std::pair<int, int> Bars(const std::vector<Line>& lines) {
    const int n = static_cast<int>(lines.size());
    int a = 0, b = 0;
    while (a < n && lines[a].Bar()) ++a;
    while (b < n - a && lines[n - 1 - b].Bar()) ++b;
    const int min_bar = std::max(4, n / 50);
    if (a < min_bar) a = 0;
    if (b < min_bar) b = 0;
    return {a, b};
  }

  cv::Size size_;
  std::vector<Line> rows_, cols_;
  int frames_ = 0;
};

class FingerprintSink : public ingest::VideoSink {
 public:
  // Frames wait (at most this many, a few MB) until the stable bars have been
  // seen over enough of the stream; later frames are hashed as they come.
  static constexpr size_t kSettleFrames = 24;

  FingerprintSink(VideoFingerprint& out, std::vector<cv::Mat>* kept, int sample_rate,
                  const std::function<void(const ingest::VideoFrame&)>& on_frame)
      : out_(out), kept_(kept), on_frame_(on_frame) {
    chroma_.reset(chromaprint_new(CHROMAPRINT_ALGORITHM_DEFAULT));
    if (chroma_ && chromaprint_start(chroma_.get(), sample_rate, 1) != 1) chroma_.reset();
  }

  void OnFrame(ingest::VideoFrame frame) override {
    if (on_frame_) on_frame_(frame);
    if (!pending_.empty() && frame.gray.size() != pending_.front().gray.size()) Flush();
    bars_.Add(frame.gray);
    if (!settled_ && pending_.size() < kSettleFrames) {
      pending_.push_back(std::move(frame));
      return;
    }
    settled_ = true;
    Flush();
    Hash(std::move(frame));
  }

  void Flush() {
    for (ingest::VideoFrame& f : pending_) Hash(std::move(f));
    pending_.clear();
  }

  void Hash(ingest::VideoFrame frame) {
    FrameFingerprint fp;
    fp.t = frame.t;
    fp.byte_pos = frame.byte_pos;
    fp.scene_cut = frame.scene_cut;
    fp.frame_width = frame.gray.cols;
    fp.frame_height = frame.gray.rows;
    const cv::Rect full(0, 0, frame.gray.cols, frame.gray.rows);
    PdqDihedralHashes full_hashes = hasher_.HashDihedral(frame.gray);
    fp.full = PdqHash{full_hashes.hashes[kOriginal], full_hashes.quality};
    fp.full_mirror = full_hashes.hashes[kFlipY];
    // Bars that stay still over the stream win; without any, this frame's
    // own uniform borders (a letterboxed excerpt inside other footage).
    const cv::Rect stable = bars_.Content() & full;
    fp.content = stable.area() > 0 && stable != full ? stable : TrimUniformBorders(frame.gray);
    if (fp.content.area() < full.area()) {
      PdqDihedralHashes trimmed = hasher_.HashDihedral(frame.gray(fp.content));
      fp.trimmed = PdqHash{trimmed.hashes[kOriginal], trimmed.quality};
      fp.trimmed_mirror = trimmed.hashes[kFlipY];
    }
    cv::Rect c = fp.content;
    cv::Rect inner(c.x + c.width / 20, c.y + c.height / 20, c.width - 2 * (c.width / 20),
                   c.height - 2 * (c.height / 20));
    fp.center = hasher_.Hash(frame.gray(inner));
    const cv::Rect core_base = stable.area() > 0 ? stable : full;
    PdqDihedralHashes core = hasher_.HashDihedral(frame.gray(CoreRect(core_base)));
    fp.core = PdqHash{core.hashes[kOriginal], core.quality};
    fp.core_mirror = core.hashes[kFlipY];
    if (kept_ != nullptr) kept_->push_back(std::move(frame.gray));
    out_.frames.push_back(std::move(fp));
  }

  void OnAudio(const int16_t* samples, size_t count) override {
    if (!chroma_) return;
    while (count > 0) {
      int n = static_cast<int>(std::min<size_t>(count, 1 << 20));
      if (chromaprint_feed(chroma_.get(), samples, n) != 1) {
        chroma_.reset();
        return;
      }
      samples += n;
      count -= static_cast<size_t>(n);
    }
    fed_ = true;
  }

  void Finish() {
    Flush();
    if (!chroma_ || !fed_ || chromaprint_finish(chroma_.get()) != 1) return;
    uint32_t* raw = nullptr;
    int size = 0;
    if (chromaprint_get_raw_fingerprint(chroma_.get(), &raw, &size) != 1 || raw == nullptr) return;
    out_.audio.values.assign(raw, raw + size);
    chromaprint_dealloc(raw);
    out_.audio.item_s = chromaprint_get_item_duration_ms(chroma_.get()) / 1000.0;
    out_.audio.start_s = 0;  // adjusted by the caller with the track's start time
  }

 private:
  VideoFingerprint& out_;
  std::vector<cv::Mat>* kept_;
  const std::function<void(const ingest::VideoFrame&)>& on_frame_;
  PdqHasher hasher_;
  StableBars bars_;
  std::vector<ingest::VideoFrame> pending_;
  bool settled_ = false;
  ChromaprintPtr chroma_;
  bool fed_ = false;
};

}  // namespace

cv::Rect CoreRect(const cv::Rect& c) {
  const int x0 = c.width * 20 / 100, x1 = c.width * 80 / 100;
  const int y0 = c.height * 22 / 100, y1 = c.height * 74 / 100;
  return cv::Rect(c.x + x0, c.y + y0, std::max(1, x1 - x0), std::max(1, y1 - y0));
}

Result<VideoFingerprint> FingerprintVideo(const std::string& path,
                                          const VideoFingerprintOptions& options,
                                          const ingest::IngestLimits& limits,
                                          std::vector<cv::Mat>* kept_frames) {
  VideoFingerprint out;
  FingerprintSink sink(out, kept_frames, options.decode.audio_sample_rate, options.on_frame);
  bool url = path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0;
  KAGAMI_ASSIGN_OR_RETURN(
      out.info, url && options.fetcher != nullptr
                    ? ingest::DecodeVideoUrl(path, *options.fetcher, options.decode, limits, sink)
                    : ingest::DecodeVideo(path, options.decode, limits, sink));
  sink.Finish();
  out.audio.start_s = out.info.audio_start_s;
  return out;
}

}  // namespace kagami::fingerprint
