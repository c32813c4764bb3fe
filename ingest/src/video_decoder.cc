#include "kagami/ingest/video_decoder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "kagami/base/sha256.h"
#include "kagami/ingest/memory_source.h"

namespace kagami::ingest {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameCloser {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketCloser {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsCloser {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SwrCloser {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct DictCloser {
  void operator()(AVDictionary* d) const { av_dict_free(&d); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecCloser>;
using FramePtr = std::unique_ptr<AVFrame, FrameCloser>;
using PacketPtr = std::unique_ptr<AVPacket, PacketCloser>;
using SwsPtr = std::unique_ptr<SwsContext, SwsCloser>;
using SwrPtr = std::unique_ptr<SwrContext, SwrCloser>;

using Clock = std::chrono::steady_clock;

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct Deadline {
  Clock::time_point end;
  bool expired = false;
};

int InterruptCallback(void* opaque) {
  auto* d = static_cast<Deadline*>(opaque);
  if (Clock::now() > d->end) d->expired = true;
  return d->expired ? 1 : 0;
}

bool HasPrefix(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && std::equal(p.begin(), p.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Mean luma of a 16x9 grid of cells, each the mean of 4x4 sampled points:
// a cheap picture signature for scene-cut detection (reads 576 pixels).
constexpr int kSigW = 16, kSigH = 9;
using Signature = std::array<float, kSigW * kSigH>;

bool LumaSignature(const AVFrame& f, Signature& sig) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f.format));
  if (d == nullptr ||
      (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL)) ||
      d->comp[0].plane != 0 || d->comp[0].depth != 8 || d->comp[0].step != 1 ||
      f.data[0] == nullptr || f.width < kSigW * 4 || f.height < kSigH * 4) {
    return false;
  }
  for (int cy = 0; cy < kSigH; ++cy) {
    for (int cx = 0; cx < kSigW; ++cx) {
      int sum = 0;
      for (int sy = 0; sy < 4; ++sy) {
        int y = ((cy * 4 + sy) * 2 + 1) * f.height / (kSigH * 8);
        const uint8_t* row = f.data[0] + static_cast<ptrdiff_t>(y) * f.linesize[0];
        for (int sx = 0; sx < 4; ++sx) sum += row[((cx * 4 + sx) * 2 + 1) * f.width / (kSigW * 8)];
      }
      sig[cy * kSigW + cx] = sum / 16.0f;
    }
  }
  return true;
}

float SignatureDistance(const Signature& a, const Signature& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(a[i] - b[i]);
  return s / a.size();
}

constexpr float kSceneCutThreshold = 28.0f;  // mean absolute luma change (0..255)
constexpr double kSceneCutMinGap = 0.5;      // seconds since the previous sampled frame
constexpr int kMaxDecodeErrors = 5000;

class Decoder {
 public:
  Decoder(const VideoDecodeOptions& options, const IngestLimits& limits, VideoSink& sink)
      : options_(options), limits_(limits), sink_(sink) {}

  // `pb` (may be null): a custom AVIOContext to read from instead of the
  // file `path` (which then only names the input); not owned, must outlive Run.
  Result<VideoInfo> Run(const std::string& path, AVIOContext* pb = nullptr,
                        const AVInputFormat* format = nullptr) {
    deadline_.end = Clock::now() + std::chrono::milliseconds(
                                       static_cast<int64_t>(options_.max_decode_seconds * 1000));
    KAGAMI_RETURN_IF_ERROR(Open(path, pb, format));
    KAGAMI_RETURN_IF_ERROR(Loop());
    if (deadline_.expired) {
      return Status::ResourceExhausted(path + ": decoding took longer than " +
                                       std::to_string(options_.max_decode_seconds) + " s");
    }
    if (info_.frames_decoded == 0 && info_.audio_samples == 0) {
      return Status::Corrupt(path + ": no decodable video or audio frame (" +
                             std::to_string(info_.decode_errors) + " packets rejected)");
    }
    info_.duration_s = std::max(last_video_t_, last_audio_t_);
    info_.audio_start_s = audio_start_s_;
    return info_;
  }

 private:
  Status Open(const std::string& path, AVIOContext* pb, const AVInputFormat* format) {
    AVFormatContext* raw = avformat_alloc_context();
    if (raw == nullptr) return Status::ResourceExhausted("out of memory");
    if (pb != nullptr) {
      raw->pb = pb;
      raw->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    raw->interrupt_callback.callback = &InterruptCallback;
    raw->interrupt_callback.opaque = &deadline_;
    raw->probesize = 32 << 20;
    raw->max_analyze_duration = 30 * AV_TIME_BASE;
    AVDictionary* opts_raw = nullptr;
    av_dict_set(&opts_raw, "protocol_whitelist", "file", 0);
    std::unique_ptr<AVDictionary, DictCloser> opts(opts_raw);
    AVDictionary* o = opts.release();
    int rc = avformat_open_input(&raw, pb != nullptr ? "" : path.c_str(), format, &o);
    opts.reset(o);
    if (rc < 0) {  // raw is freed by avformat_open_input on failure
      if (deadline_.expired) return Status::ResourceExhausted(path + ": opening timed out");
      return Status::Corrupt(path + ": not a readable media file (" + AvError(rc) + ")");
    }
    fmt_.reset(raw);
    rc = avformat_find_stream_info(fmt_.get(), nullptr);
    if (rc < 0) return Status::Corrupt(path + ": cannot read stream info (" + AvError(rc) + ")");
    info_.container = fmt_->iformat != nullptr ? fmt_->iformat->name : "";
    if (fmt_->start_time != AV_NOPTS_VALUE) origin_s_ = fmt_->start_time / double(AV_TIME_BASE);

    video_index_ = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (options_.audio) {
      audio_index_ = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    }
    if (video_index_ < 0 && audio_index_ < 0) {
      return Status::Unsupported(path + ": no video or audio stream");
    }
    if (video_index_ >= 0) {
      const AVCodecParameters* par = fmt_->streams[video_index_]->codecpar;
      info_.width = par->width;
      info_.height = par->height;
      KAGAMI_RETURN_IF_ERROR(CheckDimensions(path, par->width, par->height));
      KAGAMI_ASSIGN_OR_RETURN(video_, OpenCodec(path, video_index_, true));
      info_.video_codec = video_->codec->name;
    }
    if (audio_index_ >= 0) {
      auto audio = OpenCodec(path, audio_index_, false);
      if (audio.ok()) {
        audio_ = std::move(*audio);
        info_.audio_codec = audio_->codec->name;
      } else if (video_index_ < 0) {
        return audio.status();
      } else {
        audio_index_ = -1;  // an undecodable audio track does not spoil the video
      }
    }
    for (unsigned i = 0; i < fmt_->nb_streams; ++i) {
      if (static_cast<int>(i) != video_index_ && static_cast<int>(i) != audio_index_) {
        fmt_->streams[i]->discard = AVDISCARD_ALL;
      }
    }
    if (video_index_ >= 0) {
      AVRational r = fmt_->streams[video_index_]->avg_frame_rate;
      if (r.num > 0 && r.den > 0 && av_q2d(r) >= 1 && av_q2d(r) <= 300) frame_s_ = 1 / av_q2d(r);
    }
    return Status::Ok();
  }

  Status CheckDimensions(const std::string& path, int w, int h) {
    if (w < 0 || h < 0 || static_cast<uint64_t>(w) > limits_.max_dimension ||
        static_cast<uint64_t>(h) > limits_.max_dimension ||
        static_cast<uint64_t>(w) * static_cast<uint64_t>(h) > limits_.max_pixels) {
      return Status::ResourceExhausted(path + ": video frame " + std::to_string(w) + "x" +
                                       std::to_string(h) + " exceeds the limits");
    }
    return Status::Ok();
  }

  Result<CodecPtr> OpenCodec(const std::string& path, int index, bool video) {
    const AVCodecParameters* par = fmt_->streams[index]->codecpar;
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (codec == nullptr) {
      return Status::Unsupported(path + ": no decoder for " + avcodec_get_name(par->codec_id));
    }
    CodecPtr ctx(avcodec_alloc_context3(codec));
    if (!ctx) return Status::ResourceExhausted("out of memory");
    int rc = avcodec_parameters_to_context(ctx.get(), par);
    if (rc < 0) return Status::Corrupt(path + ": bad codec parameters (" + AvError(rc) + ")");
    ctx->pkt_timebase = fmt_->streams[index]->time_base;
    if (video) {
      ctx->thread_count = options_.threads;
      ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
      if (options_.skip_nonref) ctx->skip_frame = AVDISCARD_NONREF;
      if (options_.skip_loop_filter) ctx->skip_loop_filter = AVDISCARD_ALL;
      // Low-resolution decoding (DCT-domain downscale) where the codec has it
      // (MJPEG and some older codecs; not H.264/HEVC/VP9/AV1), keeping the
      // short side at least 2x what the sampled frames need.
      int lowres = 0;
      while (lowres < codec->max_lowres &&
             std::min(par->width, par->height) >> (lowres + 1) >= options_.max_side) {
        ++lowres;
      }
      ctx->lowres = lowres;
    } else {
      ctx->thread_count = 1;
    }
    rc = avcodec_open2(ctx.get(), codec, nullptr);
    if (rc < 0) {
      return Status::Unsupported(path + ": cannot open " + codec->name + " decoder (" +
                                 AvError(rc) + ")");
    }
    return ctx;
  }

  Status Loop() {
    PacketPtr pkt(av_packet_alloc());
    FramePtr frame(av_frame_alloc());
    if (!pkt || !frame) return Status::ResourceExhausted("out of memory");
    while (!done_) {
      int rc = av_read_frame(fmt_.get(), pkt.get());
      if (rc == AVERROR(EAGAIN)) {
        if (Clock::now() > deadline_.end) deadline_.expired = true;
        if (deadline_.expired) break;
        continue;
      }
      if (rc < 0) break;  // end of file, or damage the demuxer cannot resync from
      if (pkt->stream_index == video_index_) {
        if (!SkipVideoPacket(*pkt)) Feed(video_.get(), pkt.get(), frame.get(), true);
      } else if (pkt->stream_index == audio_index_) {
        Feed(audio_.get(), pkt.get(), frame.get(), false);
      }
      av_packet_unref(pkt.get());
      if (deadline_.expired || Clock::now() > deadline_.end) {
        deadline_.expired = true;
        break;
      }
    }
    if (!deadline_.expired) {
      if (video_) Feed(video_.get(), nullptr, frame.get(), true);
      if (audio_) Feed(audio_.get(), nullptr, frame.get(), false);
      FlushAudio();
    }
    return Status::Ok();
  }

  void Feed(AVCodecContext* ctx, AVPacket* pkt, AVFrame* frame, bool video) {
    int rc = avcodec_send_packet(ctx, pkt);
    if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
      if (++info_.decode_errors > kMaxDecodeErrors) done_ = true;
      return;
    }
    while (true) {
      rc = avcodec_receive_frame(ctx, frame);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) break;
      if (rc < 0) {
        if (++info_.decode_errors > kMaxDecodeErrors) done_ = true;
        break;
      }
      if (video) {
        OnVideoFrame(*frame);
      } else {
        OnAudioFrame(*frame);
      }
      av_frame_unref(frame);
      if (done_) break;
    }
  }

  // Keyframe skipping (VideoDecodeOptions::skip_to_keyframes): true when
  // `pkt` is to be dropped. Notes every keyframe's time for the prediction.
  bool SkipVideoPacket(const AVPacket& pkt) {
    const bool key = (pkt.flags & AV_PKT_FLAG_KEY) != 0;
    int64_t ts = pkt.pts != AV_NOPTS_VALUE ? pkt.pts : pkt.dts;
    double t =
        ts == AV_NOPTS_VALUE ? -1 : ts * av_q2d(fmt_->streams[video_index_]->time_base) - origin_s_;
    if (key && ts != AV_NOPTS_VALUE) {
      if (have_key_ && t > last_key_t_ + 1e-3) {
        key_intervals_[key_interval_count_++ % key_intervals_.size()] = t - last_key_t_;
      }
      if (!have_key_ || t > last_key_t_) last_key_t_ = t;
      have_key_ = true;
    }
    if (!skipping_) return false;
    if (!key) {
      ++info_.packets_skipped;
      return true;
    }
    skipping_ = false;
    resume_t_ = t;
    have_sig_ = false;  // the previous signature is from before the gap
    return false;
  }

  // The time of the first keyframe after `t` (seconds), or -1 when unknown:
  // from the container's index when it holds one, else the last keyframe
  // seen plus the longest of the last three keyframe intervals.
  double NextKeyAfter(double t) const {
    AVStream* st = fmt_->streams[video_index_];  // the index API takes a non-const stream
    const double tb = av_q2d(st->time_base);
    int n = avformat_index_get_entries_count(st);
    if (n > 1) {
      // Entries are sorted by timestamp; find the first after t.
      int lo = 0, hi = n;
      while (lo < hi) {
        int mid = (lo + hi) / 2;
        const AVIndexEntry* e = avformat_index_get_entry(st, mid);
        if (e != nullptr && e->timestamp * tb - origin_s_ <= t + 1e-3) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      for (int i = lo; i < n && i < lo + 2000; ++i) {
        const AVIndexEntry* e = avformat_index_get_entry(st, i);
        if (e != nullptr && (e->flags & AVINDEX_KEYFRAME)) return e->timestamp * tb - origin_s_;
      }
    }
    if (!have_key_ || key_interval_count_ < 2 || last_key_t_ > t + 1e-3) return -1;
    double longest = 0;
    size_t m = std::min(key_interval_count_, key_intervals_.size());
    for (size_t i = 0; i < m; ++i) longest = std::max(longest, key_intervals_[i]);
    double next = last_key_t_ + longest;
    return next > t ? next : -1;
  }

  double FrameTime(const AVFrame& f, int stream) const {
    int64_t pts = f.best_effort_timestamp != AV_NOPTS_VALUE ? f.best_effort_timestamp : f.pts;
    if (pts == AV_NOPTS_VALUE) return -1;
    return std::max(0.0, pts * av_q2d(fmt_->streams[stream]->time_base) - origin_s_);
  }

  void OnVideoFrame(const AVFrame& f) {
    if (!CheckDimensions("", f.width, f.height).ok() || f.width <= 0 || f.height <= 0) {
      ++info_.decode_errors;
      return;
    }
    double t = FrameTime(f, video_index_);
    if (t < 0) t = last_video_t_ + frame_s_;  // no timestamps
    if (t < resume_t_ - 1e-3) return;         // leading picture of the GOP resumed at
    if (t > options_.max_media_seconds) {
      info_.truncated = true;
      done_ = true;
      return;
    }
    ++info_.frames_decoded;
    last_video_t_ = std::max(last_video_t_, t);
    if (options_.frame_rate <= 0) return;
    SampleIfDue(f, t);
    SkipAheadIfUnneeded(t);
  }

  // No sample time before the next keyframe (within 1.5 frames): the rest of
  // this GOP is not needed. Not when that keyframe is already in the decoder
  // (frame threading reads ahead).
  void SkipAheadIfUnneeded(double t) {
    if (!options_.skip_to_keyframes || skipping_ || done_ || last_key_t_ > t + 1e-3) return;
    double next_key = NextKeyAfter(t);
    if (next_key > t && next_key <= next_sample_t_ + 1.5 * frame_s_) skipping_ = true;
  }

  void SampleIfDue(const AVFrame& f, double t) {
    bool sample = t + 1e-6 >= next_sample_t_;
    bool cut = false;
    if (options_.scene_cuts) {
      Signature sig;
      if (LumaSignature(f, sig)) {
        if (have_sig_ && SignatureDistance(sig, prev_sig_) > kSceneCutThreshold &&
            t - last_sampled_t_ >= kSceneCutMinGap) {
          cut = !sample;
          sample = true;
        }
        prev_sig_ = sig;
        have_sig_ = true;
      }
    }
    if (!sample) return;
    if (!cut)
      next_sample_t_ = (std::floor(t * options_.frame_rate + 1e-6) + 1) / options_.frame_rate;
    last_sampled_t_ = t;
    VideoFrame out;
    out.t = t;
    out.scene_cut = cut;
    out.byte_pos = f.pkt_pos;
    if (!Scale(f, out.gray)) {
      ++info_.decode_errors;
      return;
    }
    ++info_.frames_sampled;
    sink_.OnFrame(std::move(out));
  }

  // Scales the decoder's planes straight to a small 8-bit luminance image.
  bool Scale(const AVFrame& f, cv::Mat& gray) {
    double sar = f.sample_aspect_ratio.num > 0 && f.sample_aspect_ratio.den > 0
                     ? av_q2d(f.sample_aspect_ratio)
                     : 1.0;
    sar = std::clamp(sar, 0.25, 4.0);
    double dw = f.width * sar, dh = f.height;
    double s = std::min(1.0, options_.max_side / std::max(dw, dh));
    int w = std::max(8, static_cast<int>(std::lround(dw * s)));
    int h = std::max(8, static_cast<int>(std::lround(dh * s)));
    SwsContext* sws = sws_getCachedContext(sws_.release(), f.width, f.height,
                                           static_cast<AVPixelFormat>(f.format), w, h,
                                           AV_PIX_FMT_GRAY8, SWS_AREA, nullptr, nullptr, nullptr);
    sws_.reset(sws);
    if (sws == nullptr) return false;
    gray.create(h, w, CV_8UC1);
    uint8_t* dst[4] = {gray.data, nullptr, nullptr, nullptr};
    int dst_stride[4] = {static_cast<int>(gray.step[0]), 0, 0, 0};
    return sws_scale(sws, f.data, f.linesize, 0, f.height, dst, dst_stride) == h;
  }

  void OnAudioFrame(const AVFrame& f) {
    if (f.nb_samples <= 0 || f.sample_rate <= 0) return;
    if (!swr_) {
      AVChannelLayout in_layout;
      if (f.ch_layout.nb_channels > 0 && f.ch_layout.order != AV_CHANNEL_ORDER_UNSPEC) {
        av_channel_layout_copy(&in_layout, &f.ch_layout);
      } else {
        av_channel_layout_default(&in_layout, std::max(1, f.ch_layout.nb_channels));
      }
      AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
      SwrContext* raw = nullptr;
      int rc = swr_alloc_set_opts2(&raw, &mono, AV_SAMPLE_FMT_S16, options_.audio_sample_rate,
                                   &in_layout, static_cast<AVSampleFormat>(f.format), f.sample_rate,
                                   0, nullptr);
      av_channel_layout_uninit(&in_layout);
      swr_.reset(raw);
      if (rc < 0 || swr_init(swr_.get()) < 0) {
        swr_.reset();
        audio_index_ = -1;  // give up on this track
        return;
      }
      double t = FrameTime(f, audio_index_);
      audio_start_s_ = t < 0 ? 0 : t;
      in_rate_ = f.sample_rate;
      in_format_ = f.format;
    }
    if (f.sample_rate != in_rate_ || f.format != in_format_) return;  // mid-stream change: skip
    int max_out =
        static_cast<int>(av_rescale_rnd(swr_get_delay(swr_.get(), f.sample_rate) + f.nb_samples,
                                        options_.audio_sample_rate, f.sample_rate, AV_ROUND_UP));
    pcm_.resize(static_cast<size_t>(max_out) + 16);
    uint8_t* out[1] = {reinterpret_cast<uint8_t*>(pcm_.data())};
    int n = swr_convert(swr_.get(), out, max_out, const_cast<const uint8_t**>(f.extended_data),
                        f.nb_samples);
    if (n > 0) Deliver(n);
  }

  void FlushAudio() {
    if (!swr_) return;
    pcm_.resize(4096);
    uint8_t* out[1] = {reinterpret_cast<uint8_t*>(pcm_.data())};
    int n = swr_convert(swr_.get(), out, 4096, nullptr, 0);
    if (n > 0) Deliver(n);
  }

  void Deliver(int n) {
    double t =
        audio_start_s_ + static_cast<double>(info_.audio_samples + n) / options_.audio_sample_rate;
    if (t > options_.max_media_seconds) {
      info_.truncated = true;
      done_ = true;
      return;
    }
    info_.audio_samples += n;
    last_audio_t_ = t;
    sink_.OnAudio(pcm_.data(), static_cast<size_t>(n));
  }

  const VideoDecodeOptions& options_;
  const IngestLimits& limits_;
  VideoSink& sink_;
  Deadline deadline_;
  FormatPtr fmt_;
  CodecPtr video_, audio_;
  SwsPtr sws_;
  SwrPtr swr_;
  int video_index_ = -1, audio_index_ = -1;
  double origin_s_ = 0;
  double frame_s_ = 1.0 / 25;  // nominal frame duration (seconds)
  // Keyframe skipping state (SkipVideoPacket).
  bool skipping_ = false, have_key_ = false;
  double last_key_t_ = 0, resume_t_ = -1e9;
  std::array<double, 3> key_intervals_{};
  size_t key_interval_count_ = 0;
  double next_sample_t_ = 0, last_sampled_t_ = -1e9;
  double last_video_t_ = 0, last_audio_t_ = 0, audio_start_s_ = 0;
  int in_rate_ = 0, in_format_ = -1;
  Signature prev_sig_{};
  bool have_sig_ = false;
  bool done_ = false;
  std::vector<int16_t> pcm_;
  VideoInfo info_;
};

}  // namespace

bool LooksLikeVideo(const std::string& path) {
  if (HasPrefix(path, "http://") || HasPrefix(path, "https://")) return true;
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kExts[] = {
      ".m3u8", ".mp4", ".m4v",  ".mkv", ".webm", ".avi", ".ts",  ".m2ts", ".mts", ".flv",
      ".mov",  ".mpg", ".mpeg", ".wmv", ".ogv",  ".3gp", ".vob", ".asf",  ".divx"};
  for (std::string_view e : kExts) {
    if (ext == e) return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  unsigned char head[64] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  size_t n = static_cast<size_t>(in.gcount());
  auto at = [&](size_t off, std::string_view magic) {
    return n >= off + magic.size() && std::memcmp(head + off, magic.data(), magic.size()) == 0;
  };
  if (at(4, "ftyp")) {  // ISO BMFF; AVIF/HEIF images are not video
    return !(at(8, "avif") || at(8, "heic") || at(8, "mif1") || at(8, "avis"));
  }
  if (at(0, "\x1a\x45\xdf\xa3")) return true;       // Matroska / WebM
  if (at(0, "RIFF") && at(8, "AVI ")) return true;  // AVI
  if (at(0, "FLV\x01")) return true;                // FLV
  if (at(0, "#EXTM3U")) return true;                // HLS playlist
  if (n >= 189 && head[0] == 0x47) return true;     // MPEG-TS (unreachable: 64 bytes)
  if (at(0, std::string_view("\x00\x00\x01\xba", 4))) return true;  // MPEG-PS
  if (at(0, "OggS")) return true;
  return false;
}

void SetFfmpegLogging(bool errors_only) {
  av_log_set_level(errors_only ? AV_LOG_ERROR : AV_LOG_QUIET);
}

Result<VideoInfo> DecodeVideo(const std::string& path, const VideoDecodeOptions& options,
                              const IngestLimits& limits, VideoSink& sink) {
  if (HasPrefix(path, "http://") || HasPrefix(path, "https://")) {
    return Status::Unsupported(
        path +
        ": URLs are read through a fetcher (DecodeVideoUrl), never by FFmpeg's network "
        "stack");
  }
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return Status::NotFound(path + ": no such file");
  if (!std::filesystem::is_regular_file(status)) {
    return Status::InvalidArgument(path + ": not a regular file");
  }
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return ErrnoStatus(ec.value(), "stat " + path);
  if (size == 0) return Status::Corrupt(path + ": zero-length file");
  if (size > limits.max_file_bytes) {
    return Status::ResourceExhausted(path + ": " + std::to_string(size) +
                                     " bytes exceeds the file size limit of " +
                                     std::to_string(limits.max_file_bytes));
  }
  if (options.max_side < 16 || options.max_side > 4096) {
    return Status::InvalidArgument("max_side must be within 16..4096");
  }
  if (options.audio && (options.audio_sample_rate < 4000 || options.audio_sample_rate > 96000)) {
    return Status::InvalidArgument("audio_sample_rate must be within 4000..96000");
  }
  Decoder decoder(options, limits, sink);
  return decoder.Run(path);
}

namespace {

constexpr uint64_t kMaxPlaylistBytes = 4u << 20;
constexpr size_t kMaxSegments = 20000;
constexpr int kAvioBufferBytes = 64 * 1024;

// RFC 3986 reference resolution, enough for playlist URIs: absolute http(s),
// scheme-relative, absolute-path and relative-path references. Dot segments
// are left to the fetcher's canonicalisation.
std::string ResolveUri(const std::string& base, const std::string& ref) {
  if (HasPrefix(ref, "http://") || HasPrefix(ref, "https://")) return ref;
  size_t scheme_end = base.find("://");
  if (scheme_end == std::string::npos) return ref;
  if (ref.rfind("//", 0) == 0) return base.substr(0, scheme_end + 1) + ref;
  size_t path_start = base.find('/', scheme_end + 3);
  std::string origin = path_start == std::string::npos ? base : base.substr(0, path_start);
  if (!ref.empty() && ref[0] == '/') return origin + ref;
  std::string path = path_start == std::string::npos ? "/" : base.substr(path_start);
  size_t cut = path.find_first_of("?#");
  if (cut != std::string::npos) path.resize(cut);
  path.resize(path.rfind('/') + 1);
  return origin + path + ref;
}

// The value of ATTR=value or ATTR="value" in an attribute list.
std::string HlsAttr(const std::string& list, const std::string& name) {
  size_t pos = 0;
  while ((pos = list.find(name + "=", pos)) != std::string::npos) {
    if (pos == 0 || list[pos - 1] == ',' || list[pos - 1] == ':') {
      size_t v = pos + name.size() + 1;
      if (v < list.size() && list[v] == '"') {
        size_t end = list.find('"', v + 1);
        return list.substr(v + 1, end == std::string::npos ? std::string::npos : end - v - 1);
      }
      size_t end = list.find(',', v);
      return list.substr(v, end == std::string::npos ? std::string::npos : end - v);
    }
    pos += name.size();
  }
  return {};
}

// Reads HLS segments (or one file) one after another through a ByteFetcher,
// as one stream. A live media playlist is re-read when the segments run out
// (VideoDecodeOptions::Live), sleeping on the calling thread.
class SegmentReader {
 public:
  struct Item {
    std::string url;
    int64_t sequence = -1;  // media sequence number; -1: init segment or plain file
    double duration = 0;    // EXTINF seconds
  };

  SegmentReader(ByteFetcher& fetcher, uint64_t max_total, const VideoDecodeOptions::Live& live,
                double max_wall_s)
      : fetcher_(fetcher),
        max_total_(max_total),
        live_(live),
        started_(Clock::now()),
        wall_end_(started_ +
                  std::chrono::milliseconds(static_cast<int64_t>(
                      std::max(0.0, std::min(live.max_wall_seconds, max_wall_s)) * 1000))) {}

  // Lowercase hex SHA-256 over every piece's bytes in input order (call once).
  std::string Digest() { return digest_.FinalHex(); }

  void Add(Item item) { queue_.push_back(std::move(item)); }

  // Makes the reader follow the live media playlist `url` whose first load
  // is `p` (already Add()ed).
  void FollowLive(const std::string& url, const HlsPlaylist& p) {
    live_url_ = url;
    following_ = true;
    target_s_ = p.target_duration > 0 ? p.target_duration : 6;
    stall_s_ = live_.max_stall_seconds > 0 ? live_.max_stall_seconds : 3 * target_s_;
    last_load_ = last_new_ = Clock::now();
    changed_ = true;
  }

  // Adds the segments of a media playlist that are new (by media sequence),
  // within the live bounds. Returns how many were added.
  size_t AddSegments(const HlsPlaylist& p) {
    size_t added = 0;
    for (size_t i = 0; i < p.segments.size() && stop_.empty(); ++i) {
      int64_t seq = p.media_sequence + static_cast<int64_t>(i);
      if (have_seq_ && seq < next_seq_) continue;
      if (have_seq_ && seq > next_seq_) missed_ += seq - next_seq_;
      if (following_ || !p.ended) {
        if (taken_ >= live_.max_segments) {
          stop_ = "max_segments";
          break;
        }
        if (taken_s_ + p.durations[i] > live_.max_media_seconds + 1e-6) {
          stop_ = "max_media_seconds";
          break;
        }
      }
      queue_.push_back({p.segments[i], seq, p.durations[i]});
      ++taken_;
      taken_s_ += p.durations[i];
      next_seq_ = seq + 1;
      have_seq_ = true;
      ++added;
    }
    return added;
  }

  static int Read(void* opaque, uint8_t* buf, int size) {
    return static_cast<SegmentReader*>(opaque)->ReadSome(buf, size);
  }

  const Status& error() const { return error_; }
  std::vector<StreamPiece>& pieces() { return pieces_; }
  int reloads() const { return reloads_; }
  int64_t missed() const { return missed_; }
  // Why a live playlist stopped being read ("" while not live).
  const std::string& stop_reason() const { return stop_; }
  void set_stop_reason(std::string why) { stop_ = std::move(why); }

 private:
  int ReadSome(uint8_t* buf, int size) {
    while (pos_ >= current_.size()) {
      if (!error_.ok()) return AVERROR_EOF;
      if (next_ >= queue_.size() && !Reload()) return AVERROR_EOF;
      uint64_t room = max_total_ > total_ ? max_total_ - total_ : 0;
      if (room == 0) {
        error_ = Status::ResourceExhausted("HLS stream exceeds " + std::to_string(max_total_) +
                                           " bytes in all");
        return AVERROR_EOF;
      }
      const Item& item = queue_[next_++];
      Result<FetchedBytes> got = fetcher_.Fetch(item.url, room);
      if (!got.ok()) {
        error_ = got.status();
        if (following_ && stop_.empty()) stop_ = "fetch error";
        return AVERROR_EOF;  // the segments read so far still decode
      }
      current_ = std::move(got->bytes);
      pos_ = 0;
      StreamPiece piece;
      piece.url = got->url.empty() ? item.url : got->url;
      piece.offset = static_cast<int64_t>(total_);
      piece.size = static_cast<int64_t>(current_.size());
      piece.sha256 = kagami::Sha256Hex(current_.data(), current_.size());
      piece.sequence = item.sequence;
      pieces_.push_back(std::move(piece));
      digest_.Update(current_.data(), current_.size());
      total_ += current_.size();
    }
    size_t n = std::min(static_cast<size_t>(size), current_.size() - pos_);
    std::memcpy(buf, current_.data() + pos_, n);
    pos_ += n;
    return static_cast<int>(n);
  }

  // Live: waits for and fetches new segments. False when the stream is over.
  bool Reload() {
    if (!following_ || !stop_.empty()) return false;
    while (true) {
      // RFC 8216 6.3.4: reload after the target duration, or half of it
      // when the last reload brought nothing new.
      auto due = last_load_ + std::chrono::milliseconds(
                                  static_cast<int64_t>((changed_ ? 1.0 : 0.5) * target_s_ * 1000));
      if (due > wall_end_) {
        std::this_thread::sleep_until(wall_end_);
        stop_ = "max_wall_seconds";
        return false;
      }
      std::this_thread::sleep_until(due);
      last_load_ = Clock::now();
      ++reloads_;
      Result<FetchedBytes> got = fetcher_.Fetch(live_url_, kMaxPlaylistBytes);
      if (!got.ok()) {
        error_ = got.status();
        stop_ = "fetch error";
        return false;
      }
      Result<HlsPlaylist> p = ParseHlsPlaylist(got->bytes, got->url.empty() ? live_url_ : got->url);
      if (!p.ok() || p->master) {
        error_ = p.ok() ? Status::Corrupt(live_url_ + ": a media playlist became a master playlist")
                        : p.status();
        stop_ = "fetch error";
        return false;
      }
      if (p->target_duration > 0) target_s_ = p->target_duration;
      size_t added = AddSegments(*p);
      changed_ = added > 0;
      if (added > 0) last_new_ = last_load_;
      if (p->ended && stop_.empty() && added == 0) stop_ = "endlist";
      if (added > 0) {
        if (p->ended && stop_.empty()) stop_ = "endlist";  // read what was added, then stop
        return true;
      }
      if (!stop_.empty()) return false;
      if (std::chrono::duration<double>(Clock::now() - last_new_).count() > stall_s_) {
        stop_ = "stalled";
        return false;
      }
    }
  }

  ByteFetcher& fetcher_;
  uint64_t max_total_;
  VideoDecodeOptions::Live live_;
  std::vector<Item> queue_;
  uint64_t total_ = 0;
  size_t next_ = 0;
  std::string current_;
  size_t pos_ = 0;
  Status error_;
  std::vector<StreamPiece> pieces_;
  kagami::Sha256 digest_;
  // Live following.
  Clock::time_point started_, wall_end_, last_load_, last_new_;
  std::string live_url_;
  bool following_ = false, changed_ = true, have_seq_ = false;
  double target_s_ = 6, stall_s_ = 18;
  int64_t next_seq_ = 0, missed_ = 0;
  size_t taken_ = 0;
  double taken_s_ = 0;
  int reloads_ = 0;
  std::string stop_;
};

struct AvioCloser {
  void operator()(AVIOContext* c) const {
    if (c == nullptr) return;
    av_freep(&c->buffer);
    avio_context_free(&c);
  }
};

}  // namespace

Result<HlsPlaylist> ParseHlsPlaylist(const std::string& text, const std::string& url) {
  if (text.rfind("#EXTM3U", 0) != 0 && text.rfind("\xef\xbb\xbf#EXTM3U", 0) != 0) {
    return Status::Corrupt(url + ": not an HLS playlist (no #EXTM3U)");
  }
  HlsPlaylist p;
  std::istringstream in(text);
  std::string line;
  double pending_duration = -1;
  bool pending_variant = false;
  long best_bandwidth = -1;
  bool best_tall = false;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.rfind("#EXT-X-STREAM-INF:", 0) == 0) {
        p.master = true;
        pending_variant = true;
        std::string attrs = line.substr(18);
        long bandwidth = std::atol(HlsAttr(attrs, "BANDWIDTH").c_str());
        std::string res = HlsAttr(attrs, "RESOLUTION");
        size_t x = res.find('x');
        bool tall = x != std::string::npos && std::atoi(res.c_str() + x + 1) >= 360;
        // Prefer the lowest bandwidth at least 360 lines high: enough for
        // fingerprints, cheapest to fetch and decode.
        bool better = best_bandwidth < 0 || (tall && !best_tall) ||
                      (tall == best_tall && bandwidth < best_bandwidth);
        pending_duration = better ? static_cast<double>(bandwidth) : -2;
        if (better) {
          best_bandwidth = bandwidth;
          best_tall = tall;
        }
      } else if (line.rfind("#EXTINF:", 0) == 0) {
        pending_duration = std::atof(line.c_str() + 8);
        if (!std::isfinite(pending_duration) || pending_duration > 86400) pending_duration = 0;
      } else if (line.rfind("#EXT-X-MEDIA-SEQUENCE:", 0) == 0) {
        p.media_sequence = std::max(0LL, std::atoll(line.c_str() + 22));
      } else if (line.rfind("#EXT-X-TARGETDURATION:", 0) == 0) {
        double d = std::atof(line.c_str() + 22);
        p.target_duration = std::isfinite(d) ? std::clamp(d, 0.0, 3600.0) : 0;
      } else if (line == "#EXT-X-ENDLIST" || line == "#EXT-X-PLAYLIST-TYPE:VOD") {
        p.ended = true;
      } else if (line.rfind("#EXT-X-KEY:", 0) == 0) {
        std::string method = HlsAttr(line.substr(11), "METHOD");
        if (method != "NONE") {
          return Status::Unsupported(url + ": encrypted HLS (EXT-X-KEY METHOD=" + method +
                                     ") is not supported");
        }
      } else if (line.rfind("#EXT-X-BYTERANGE", 0) == 0) {
        return Status::Unsupported(url + ": byte-range HLS segments are not supported");
      } else if (line.rfind("#EXT-X-MAP:", 0) == 0) {
        std::string uri = HlsAttr(line.substr(11), "URI");
        if (!uri.empty()) p.init_url = ResolveUri(url, uri);
      }
      continue;
    }
    if (pending_variant) {
      if (pending_duration != -2) p.variant_url = ResolveUri(url, line);
      pending_variant = false;
      pending_duration = -1;
      continue;
    }
    if (p.master) continue;
    if (p.segments.size() >= kMaxSegments) {
      return Status::ResourceExhausted(url + ": more than " + std::to_string(kMaxSegments) +
                                       " segments");
    }
    p.segments.push_back(ResolveUri(url, line));
    p.durations.push_back(std::max(0.0, pending_duration));
    pending_duration = -1;
  }
  if (p.master && p.variant_url.empty())
    return Status::Corrupt(url + ": master playlist without variants");
  if (!p.master && p.segments.empty()) return Status::Corrupt(url + ": playlist without segments");
  return p;
}

Result<VideoInfo> DecodeVideoUrl(const std::string& url, ByteFetcher& fetcher,
                                 const VideoDecodeOptions& options, const IngestLimits& limits,
                                 VideoSink& sink) {
  if (!HasPrefix(url, "http://") && !HasPrefix(url, "https://")) {
    return Status::InvalidArgument(url + ": not an http(s) URL");
  }
  if (options.max_side < 16 || options.max_side > 4096) {
    return Status::InvalidArgument("max_side must be within 16..4096");
  }
  KAGAMI_ASSIGN_OR_RETURN(FetchedBytes first, fetcher.Fetch(url, limits.max_file_bytes));
  const Clock::time_point started = Clock::now();
  bool playlist =
      first.bytes.rfind("#EXTM3U", 0) == 0 || first.bytes.rfind("\xef\xbb\xbf#EXTM3U", 0) == 0;
  std::string inline_bytes;
  std::string inline_url;
  HlsPlaylist media;
  std::string media_url;
  if (playlist) {
    if (first.bytes.size() > kMaxPlaylistBytes) {
      return Status::ResourceExhausted(url + ": playlist over " +
                                       std::to_string(kMaxPlaylistBytes) + " bytes");
    }
    const std::string first_url = first.url.empty() ? url : first.url;
    KAGAMI_ASSIGN_OR_RETURN(media, ParseHlsPlaylist(first.bytes, first_url));
    media_url = first_url;
    if (media.master) {
      KAGAMI_ASSIGN_OR_RETURN(FetchedBytes variant,
                              fetcher.Fetch(media.variant_url, kMaxPlaylistBytes));
      media_url = variant.url.empty() ? media.variant_url : variant.url;
      KAGAMI_ASSIGN_OR_RETURN(media, ParseHlsPlaylist(variant.bytes, media_url));
      if (media.master) return Status::Unsupported(url + ": nested master playlists");
    }
  } else {
    if (first.bytes.empty()) return Status::Corrupt(url + ": zero-length response");
    inline_bytes = std::move(first.bytes);  // a plain video file served over HTTP
    inline_url = first.url.empty() ? url : first.url;
  }

  // The first piece is served from memory when we have it already.
  struct FirstThenFetcher : ByteFetcher {
    ByteFetcher& inner;
    std::string held;
    std::string held_url;
    bool used = false;
    FirstThenFetcher(ByteFetcher& f, std::string b, std::string u)
        : inner(f), held(std::move(b)), held_url(std::move(u)) {}
    Result<FetchedBytes> Fetch(const std::string& u, uint64_t max) override {
      if (!used && !held.empty()) {
        used = true;
        return FetchedBytes{held_url, std::move(held), ""};
      }
      return inner.Fetch(u, max);
    }
  } source(fetcher, std::move(inline_bytes), inline_url);

  double wall_left = options.max_decode_seconds * 0.95 -
                     std::chrono::duration<double>(Clock::now() - started).count();
  SegmentReader reader(source, limits.max_file_bytes, options.live, wall_left);
  if (playlist) {
    if (!media.init_url.empty()) reader.Add({media.init_url, -1, 0});
    reader.AddSegments(media);
    if (!media.ended) reader.FollowLive(media_url, media);
  } else {
    reader.Add({url, -1, 0});
  }
  auto* buffer = static_cast<unsigned char*>(av_malloc(kAvioBufferBytes));
  if (buffer == nullptr) return Status::ResourceExhausted("out of memory");
  std::unique_ptr<AVIOContext, AvioCloser> io(avio_alloc_context(
      buffer, kAvioBufferBytes, 0, &reader, &SegmentReader::Read, nullptr, nullptr));
  if (!io) {
    av_free(buffer);
    return Status::ResourceExhausted("out of memory");
  }
  io->seekable = 0;
  Decoder decoder(options, limits, sink);
  Result<VideoInfo> info = decoder.Run(url, io.get(), nullptr);
  if (!info.ok() && !reader.error().ok()) {
    return Status(reader.error().code(),
                  info.status().message() + " (fetching: " + reader.error().message() + ")");
  }
  if (!info.ok()) return info;
  info->pieces = std::move(reader.pieces());
  info->content_sha256 = reader.Digest();
  if (playlist && !media.ended) {
    info->live = true;
    info->live_reloads = reader.reloads();
    info->live_segments_missed = reader.missed();
    info->live_stop = reader.stop_reason().empty() ? "endlist" : reader.stop_reason();
    if (!reader.error().ok()) info->live_stop += ": " + reader.error().message();
    if (info->live_stop == "max_segments" || info->live_stop == "max_media_seconds" ||
        info->live_stop == "max_wall_seconds") {
      info->truncated = true;
    }
  }
  return info;
}

const StreamPiece* PieceAt(const std::vector<StreamPiece>& pieces, int64_t pos) {
  if (pos < 0) return nullptr;
  auto it = std::upper_bound(pieces.begin(), pieces.end(), pos,
                             [](int64_t p, const StreamPiece& piece) { return p < piece.offset; });
  if (it == pieces.begin()) return nullptr;
  --it;
  return pos < it->offset + it->size ? &*it : nullptr;
}

}  // namespace kagami::ingest
