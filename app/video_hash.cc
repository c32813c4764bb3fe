// `kagami hash VIDEO`: one JSON line per sampled frame.

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "kagami/fingerprint/video_fingerprint.h"
#include "kagami/pipeline/video_pipeline.h"

namespace kagami::app {

void HashVideos(const GlobalFlags& flags, const std::vector<std::string>& paths,
                const ingest::IngestLimits& limits, int& hashed, int& errors) {
  for (const std::string& path : paths) {
    fingerprint::VideoFingerprintOptions options;
    options.decode.frame_rate = pipeline::VideoOptions{}.scan_frame_rate;
    options.decode.threads = flags.threads;
    auto fp = fingerprint::FingerprintVideo(path, options, limits);
    if (!fp.ok()) {
      ++errors;
      std::cout << JsonDump({{"file", path}, {"error", fp.status().ToString()}}) << '\n';
      continue;
    }
    for (const fingerprint::FrameFingerprint& f : fp->frames) {
      nlohmann::json j;
      j["file"] = path;
      j["unit"] = "frame";
      j["t"] = std::round(f.t * 1000.0) / 1000.0;
      j["pdq"] = f.full.hash.ToHex();
      j["quality"] = f.full.quality;
      if (f.trimmed) {
        j["pdq_trimmed"] = f.trimmed->hash.ToHex();
        j["trimmed_quality"] = f.trimmed->quality;
        j["content"] = {f.content.x, f.content.y, f.content.width, f.content.height};
      }
      j["pdq_center"] = f.center.hash.ToHex();
      j["center_quality"] = f.center.quality;
      j["pdq_core"] = f.core.hash.ToHex();
      j["core_quality"] = f.core.quality;
      j["pdq_mirror"] = f.full_mirror.ToHex();
      if (f.trimmed_mirror) j["pdq_trimmed_mirror"] = f.trimmed_mirror->ToHex();
      j["pdq_core_mirror"] = f.core_mirror.ToHex();
      j["scene_cut"] = f.scene_cut;
      std::cout << JsonDump(j) << '\n';
      ++hashed;
    }
    nlohmann::json s;
    s["file"] = path;
    s["unit"] = "video";
    s["duration"] = std::round(fp->info.duration_s * 1000.0) / 1000.0;
    s["container"] = fp->info.container;
    s["video_codec"] = fp->info.video_codec;
    s["audio_codec"] = fp->info.audio_codec;
    s["width"] = fp->info.width;
    s["height"] = fp->info.height;
    s["frames"] = fp->frames.size();
    s["audio_items"] = fp->audio.values.size();
    s["audio_item_s"] = fp->audio.item_s;
    s["decode_errors"] = fp->info.decode_errors;
    std::cout << JsonDump(s) << '\n';
  }
}

}  // namespace kagami::app
