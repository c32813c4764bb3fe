// Video fingerprinting throughput (issue 10), side by side with plain FFmpeg
// decoding of the same file with the same number of threads.
//
//   build/bench/kagami_bench_video_throughput [--dir DIR] [--seconds 30] [--threads 2] [--rounds 3]
//
// Generates (once, with the ffmpeg command) a 1080p and a 720p H.264 file
// (x264 veryfast, CRF 23, default GOP and B-frames, AAC stereo 44.1 kHz) of
// moving test content, then times per file, median of --rounds:
//  - peer: `ffmpeg -threads N -i F -map 0:v -f null -` (video decode only) and
//    with audio (`-f null -` of all streams);
//  - kagami FingerprintVideo (sampling 1/s + scene cuts, PDQ x4 views per
//    sampled frame, audio resampled + Chromaprint), skip_nonref on and off.
// Prints multiples of real time and the ratio to the peer's time.

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

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
  int seconds = 30, threads = 2, rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dir") dir = argv[i + 1];
    if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
  }
  std::filesystem::create_directories(dir);
  struct File {
    std::string name, size;
  };
  std::vector<File> files = {{"1080p", "1920x1080"}, {"720p", "1280x720"}};
  for (const File& f : files) {
    std::string path = dir + "/" + f.name + ".mp4";
    if (std::filesystem::exists(path)) continue;
    std::fprintf(stderr, "generating %s ...\n", path.c_str());
    // testsrc2 (moving shapes) blended with a slow Mandelbrot-free noise layer so the
    // encoder has real work; 25 fps.
    std::string cmd =
        "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=" + f.size +
        ":rate=25 -f lavfi -i \"sine=f=440:sample_rate=44100,aformat=channel_layouts=stereo\" "
        "-vf \"noise=alls=12:allf=t\" -t " +
        std::to_string(seconds) +
        " -c:v libx264 -preset veryfast -crf 23 -pix_fmt yuv420p -c:a aac "
        "-shortest " +
        path;
    if (!Shell(cmd)) return 2;
  }
  std::printf(
      "threads: %d, rounds: %d (median), content: %d s testsrc2+noise, H.264 veryfast CRF 23\n\n",
      threads, rounds, seconds);
  std::printf("| file | contender | seconds | x real time | vs ffmpeg video decode |\n");
  std::printf("|---|---|---:|---:|---:|\n");
  for (const File& f : files) {
    std::string path = dir + "/" + f.name + ".mp4";
    std::string t = std::to_string(threads);
    std::vector<double> peer_v, peer_all, peer_nonref, ours, ours_full;
    double duration = seconds;
    for (int r = 0; r < rounds; ++r) {
      peer_v.push_back(TimeShell("ffmpeg -nostdin -v error -threads " + t + " -i " + path +
                                 " -map 0:v -f null -"));
      peer_all.push_back(
          TimeShell("ffmpeg -nostdin -v error -threads " + t + " -i " + path + " -f null -"));
      peer_nonref.push_back(TimeShell("ffmpeg -nostdin -v error -threads " + t +
                                      " -skip_frame noref -i " + path + " -map 0:v -f null -"));
      for (bool skip : {true, false}) {
        kagami::fingerprint::VideoFingerprintOptions o;
        o.decode.threads = threads;
        o.decode.skip_nonref = skip;
        auto t0 = Clock::now();
        auto fp = kagami::fingerprint::FingerprintVideo(path, o, kagami::ingest::IngestLimits{});
        double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!fp.ok()) {
          std::fprintf(stderr, "%s\n", fp.status().ToString().c_str());
          return 2;
        }
        duration = fp->info.duration_s;
        (skip ? ours : ours_full).push_back(s);
      }
    }
    double base = Median(peer_v);
    auto row = [&](const char* name, double s) {
      std::printf("| %s | %s | %.2f | %.1fx | %.2fx |\n", f.name.c_str(), name, s, duration / s,
                  s / base);
    };
    row("peer: ffmpeg decode, video only", base);
    row("peer: ffmpeg decode, video + audio", Median(peer_all));
    row("peer: ffmpeg decode, video only, -skip_frame noref", Median(peer_nonref));
    row("kagami fingerprint (skip non-ref, default)", Median(ours));
    row("kagami fingerprint (every frame decoded)", Median(ours_full));
  }
  return 0;
}
