// Video fingerprinting throughput (issue 10), side by side with plain FFmpeg
// decoding of the same file with the same number of threads.
//
//   build/bench/kagami_bench_video_throughput [--dir DIR] [--seconds 30] [--threads 2]
//                                              [--rounds 3] [--only NAME]
//
// Generates (once, with the ffmpeg command), 30 s each, AAC stereo 44.1 kHz:
//  - 1080p, 720p: testsrc2 + per-frame noise, x264 veryfast CRF 23, default GOP
//    (keyint 250) and B-frames, 25 fps (a high bitrate: slow to decode);
//  - 1080p-lowrate: testsrc2 without noise, 24 fps, CRF 23 (about 5 Mbit/s);
//  - 1080p-gop2: as 1080p-lowrate with a 2 s GOP (-g 48), as streaming encodes.
// Then times per file, median of --rounds:
//  - peers: `ffmpeg -threads N -i F -map 0:v -f null -` (video decode only),
//    with `-skip_frame noref`, with `-skip_frame noref -skip_loop_filter all`,
//    and `-skip_frame nokey` (keyframes only: a floor no sampler can beat);
//  - kagami FingerprintVideo (sampling 1/s + scene cuts, PDQ x4 views per
//    sampled frame, audio resampled + Chromaprint): default (skip non-ref +
//    skip to keyframes), + skip_loop_filter, and every frame decoded.
// Prints multiples of real time, the ratio to the peer's time, and for the
// shortcuts the PDQ distance of each sampled frame to the exact decode's.

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "kagami/fingerprint/hash256.h"
#include "kagami/fingerprint/video_fingerprint.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool Shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

double TimeShell(const std::string& cmd) {
  auto t0 = Clock::now();
  if (!Shell(cmd)) {
    std::fprintf(stderr, "failed: %s\n", cmd.c_str());
    std::exit(2);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/kagami-video-bench";
  std::string only;
  int seconds = 30, threads = 2, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (a == "--only") only = argv[i + 1];
  }
  std::filesystem::create_directories(dir);
  struct File {
    std::string name, size, video;
  };
  const std::string noisy = "-vf \"noise=alls=12:allf=t\" -r 25";
  std::vector<File> files = {{"1080p", "1920x1080:rate=25", noisy},
                             {"720p", "1280x720:rate=25", noisy},
                             {"1080p-lowrate", "1920x1080:rate=24", ""},
                             {"1080p-gop2", "1920x1080:rate=24", "-g 48"}};
  if (!only.empty()) {
    files.erase(
        std::remove_if(files.begin(), files.end(), [&](const File& f) { return f.name != only; }),
        files.end());
  }
  for (const File& f : files) {
    std::string path = dir + "/" + f.name + ".mp4";
    if (std::filesystem::exists(path)) continue;
    std::fprintf(stderr, "generating %s ...\n", path.c_str());
    std::string cmd =
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=" + f.size +
        " -f lavfi -i \"sine=f=440:sample_rate=44100,aformat=channel_layouts=stereo\" " + f.video +
        " -t " + std::to_string(seconds) +
        " -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -c:a aac -shortest " + path;
    if (!Shell(cmd)) return 2;
  }
  std::printf("threads: %d, rounds: %d (median), %d s files, H.264 veryfast CRF 23\n\n", threads,
              rounds, seconds);
  std::printf(
      "| file | contender | seconds | x real time | vs ffmpeg video decode | PDQ drift mean/max "
      "|\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  for (const File& f : files) {
    std::string path = dir + "/" + f.name + ".mp4";
    std::string t = std::to_string(threads);
    std::string ff = "ffmpeg -nostdin -v error -threads " + t + " ";
    std::vector<double> peer_v, peer_nonref, peer_nolf, peer_nokey;
    struct Mode {
      const char* name;
      bool skip_nonref, skip_key, skip_lf;
      std::vector<double> times;
      kagami::fingerprint::VideoFingerprint fp;
    };
    std::vector<Mode> modes = {
        {"kagami fingerprint (every frame decoded)", false, false, false, {}, {}},
        {"kagami fingerprint (skip non-ref only)", true, false, false, {}, {}},
        {"kagami fingerprint (default: skip non-ref + skip to keyframes)",
         true,
         true,
         false,
         {},
         {}},
        {"kagami fingerprint (default + skip_loop_filter)", true, true, true, {}, {}}};
    double duration = seconds;
    for (int r = 0; r < rounds; ++r) {
      peer_v.push_back(TimeShell(ff + "-i " + path + " -map 0:v -f null -"));
      peer_nonref.push_back(TimeShell(ff + "-skip_frame noref -i " + path + " -map 0:v -f null -"));
      peer_nolf.push_back(TimeShell(ff + "-skip_frame noref -skip_loop_filter all -i " + path +
                                    " -map 0:v -f null -"));
      peer_nokey.push_back(TimeShell(ff + "-skip_frame nokey -i " + path + " -map 0:v -f null -"));
      for (Mode& m : modes) {
        kagami::fingerprint::VideoFingerprintOptions o;
        o.decode.threads = threads;
        o.decode.skip_nonref = m.skip_nonref;
        o.decode.skip_to_keyframes = m.skip_key;
        o.decode.skip_loop_filter = m.skip_lf;
        auto t0 = Clock::now();
        auto fp = kagami::fingerprint::FingerprintVideo(path, o, kagami::ingest::IngestLimits{});
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!fp.ok()) {
          std::fprintf(stderr, "%s\n", fp.status().ToString().c_str());
          return 2;
        }
        duration = fp->info.duration_s;
        m.times.push_back(s);
        m.fp = std::move(*fp);
      }
    }
    // PDQ drift of each mode's sampled frames against the exact decode's at
    // the same time (frames sampled at different times are not compared).
    auto drift = [&](const Mode& m) -> std::string {
      const auto& exact = modes[0].fp.frames;
      double sum = 0;
      int max = 0, n = 0, unmatched = 0;
      for (const auto& fr : m.fp.frames) {
        auto it = std::find_if(exact.begin(), exact.end(),
                               [&](const auto& e) { return std::abs(e.t - fr.t) < 1e-6; });
        if (it == exact.end()) {
          ++unmatched;
          continue;
        }
        int d = kagami::fingerprint::HammingDistance(it->full.hash, fr.full.hash);
        sum += d;
        max = std::max(max, d);
        ++n;
      }
      char buf[96];
      std::snprintf(buf, sizeof buf, "%.1f / %d (%d frames, %d unpaired)", n ? sum / n : 0.0, max,
                    n, unmatched);
      return buf;
    };
    double base = Median(peer_v);
    auto row = [&](const char* name, double s, const std::string& d) {
      std::printf("| %s | %s | %.2f | %.1fx | %.2fx | %s |\n", f.name.c_str(), name, s,
                  duration / s, s / base, d.c_str());
    };
    row("peer: ffmpeg decode, video only", base, "");
    row("peer: ffmpeg -skip_frame noref", Median(peer_nonref), "");
    row("peer: ffmpeg -skip_frame noref -skip_loop_filter all", Median(peer_nolf), "");
    row("peer: ffmpeg -skip_frame nokey (keyframes only)", Median(peer_nokey), "");
    for (const Mode& m : modes) {
      row(m.name, Median(m.times), &m == &modes[0] ? std::string("exact") : drift(m));
    }
    std::fflush(stdout);
  }
  return 0;
}
