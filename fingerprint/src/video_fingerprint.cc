#include "kagami/fingerprint/video_fingerprint.h"

#include <chromaprint.h>

#include <utility>

#include "kagami/fingerprint/page_normalizer.h"

namespace kagami::fingerprint {
namespace {

struct ChromaprintCloser {
  void operator()(ChromaprintContext* c) const { chromaprint_free(c); }
};
using ChromaprintPtr = std::unique_ptr<ChromaprintContext, ChromaprintCloser>;

class FingerprintSink : public ingest::VideoSink {
 public:
  FingerprintSink(VideoFingerprint& out, std::vector<cv::Mat>* kept, int sample_rate,
                  const std::function<void(const ingest::VideoFrame&)>& on_frame)
      : out_(out), kept_(kept), on_frame_(on_frame) {
    chroma_.reset(chromaprint_new(CHROMAPRINT_ALGORITHM_DEFAULT));
    if (chroma_ && chromaprint_start(chroma_.get(), sample_rate, 1) != 1) chroma_.reset();
  }

  void OnFrame(ingest::VideoFrame frame) override {
    if (on_frame_) on_frame_(frame);
    FrameFingerprint fp;
    fp.t = frame.t;
    fp.byte_pos = frame.byte_pos;
    fp.scene_cut = frame.scene_cut;
    fp.frame_width = frame.gray.cols;
    fp.frame_height = frame.gray.rows;
    PdqDihedralHashes full = hasher_.HashDihedral(frame.gray);
    fp.full = PdqHash{full.hashes[kOriginal], full.quality};
    fp.full_mirror = full.hashes[kFlipY];
    fp.content = TrimUniformBorders(frame.gray);
    if (fp.content.area() < frame.gray.rows * frame.gray.cols) {
      PdqDihedralHashes trimmed = hasher_.HashDihedral(frame.gray(fp.content));
      fp.trimmed = PdqHash{trimmed.hashes[kOriginal], trimmed.quality};
      fp.trimmed_mirror = trimmed.hashes[kFlipY];
    }
    cv::Rect c = fp.content;
    cv::Rect inner(c.x + c.width / 20, c.y + c.height / 20, c.width - 2 * (c.width / 20),
                   c.height - 2 * (c.height / 20));
    fp.center = hasher_.Hash(frame.gray(inner));
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
  ChromaprintPtr chroma_;
  bool fed_ = false;
};

}  // namespace

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
