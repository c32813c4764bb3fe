// End-to-end hashing throughput over a folder of 1-3 megapixel JPEG manga
// pages, side by side in one run with:
//  - the peer: OpenCV contrib img_hash PHash, full cv::imread, one thread
//    (how its users call it);
//  - the floor: merely reading and decoding the same files at the same scale
//    Kagami uses (fast mode), on the same threads;
//  - Kagami's pipeline (read -> decode -> PDQ) in fast and exact mode.
// Rounds are interleaved so that machine noise hits every contender alike;
// the median round is reported. Usage:
//   kagami_bench_throughput [--images N] [--rounds R] [--threads T] [--dir DIR]

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <opencv2/img_hash.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/volume.h"
#include "kagami/pipeline/batch_extractor.h"
#include "kagami/synth/page_generator.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char> ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> data(std::filesystem::file_size(p));
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

class CountingSink : public kagami::pipeline::ExtractSink {
 public:
  void BeginAsset(size_t, size_t, const std::string&, bool) override {}
  void OnPage(kagami::fingerprint::PageFingerprint page) override {
    if (page.status.ok())
      ++ok;
    else
      ++failed;
  }
  void EndAsset(size_t, size_t, const kagami::Status&) override {}
  void EndVolume(size_t) override {}
  int ok = 0;
  int failed = 0;
};

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  int images = 60;
  int rounds = 5;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kagami-bench-jpegs";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--images")
      images = std::atoi(argv[i + 1]);
    else if (flag == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--dir")
      dir = argv[i + 1];
  }

  // Corpus: synthetic manga pages at typical scan sizes (1.4, 2.0 and 2.8 MP), JPEG q85.
  const int sizes[][2] = {{1000, 1400}, {1200, 1700}, {1400, 2000}};
  std::filesystem::create_directories(dir);
  std::vector<std::filesystem::path> files;
  double megapixels = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < images; ++i) {
    const int* wh = sizes[i % 3];
    char name[64];
    std::snprintf(name, sizeof name, "page%04d_%dx%d.jpg", i, wh[0], wh[1]);
    std::filesystem::path path = dir / name;
    if (!std::filesystem::exists(path)) {
      cv::Mat page = kagami::synth::GenerateMangaPage(7000 + i, wh[0], wh[1]);
      std::vector<unsigned char> jpg = kagami::synth::EncodeJpeg(page, 85);
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(jpg.data()),
                 static_cast<std::streamsize>(jpg.size()));
    }
    files.push_back(path);
    megapixels += wh[0] * wh[1] / 1e6;
    bytes += std::filesystem::file_size(path);
  }
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.string());

  kagami::ingest::IngestLimits limits;
  auto run_peer = [&] {
    cv::Mat out;
    int n = 0;
    for (const auto& f : files) {
      cv::Mat img = cv::imread(f.string(), cv::IMREAD_COLOR);
      cv::img_hash::pHash(img, out);
      n += !out.empty();
    }
    return n;
  };
  auto run_decode_floor = [&] {
    std::atomic<int> n{0};
    tbb::task_arena arena(threads);
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, files.size(), [&](size_t i) {
        std::vector<char> data = ReadAll(files[i]);
        kagami::ingest::DecodeOptions options;
        options.mode = kagami::ingest::DecodeMode::kFast;
        auto img = kagami::ingest::DecodeImage(reinterpret_cast<const unsigned char*>(data.data()),
                                               data.size(), options, limits);
        if (img.ok()) ++n;
      });
    });
    return n.load();
  };
  auto run_kagami = [&](kagami::ingest::DecodeMode mode, int t) {
    return [&, mode, t] {
      kagami::pipeline::ExtractOptions options;
      options.decode.mode = mode;
      options.threads = t;
      std::vector<kagami::ingest::Volume> volumes = kagami::ingest::ExpandInputs(paths, limits);
      CountingSink sink;
      kagami::pipeline::ExtractVolumes(volumes, options, sink);
      return sink.ok;
    };
  };

  struct Contender {
    std::string name;
    std::function<int()> run;
    std::vector<double> seconds;
  };
  std::vector<Contender> contenders = {
      {"peer: OpenCV img_hash PHash, imread, 1 thread", run_peer, {}},
      {"floor: read + fast decode only, " + std::to_string(threads) + " threads",
       run_decode_floor,
       {}},
      {"kagami fast, " + std::to_string(threads) + " threads",
       run_kagami(kagami::ingest::DecodeMode::kFast, threads),
       {}},
      {"kagami fast, 1 thread", run_kagami(kagami::ingest::DecodeMode::kFast, 1), {}},
      {"kagami exact, " + std::to_string(threads) + " threads",
       run_kagami(kagami::ingest::DecodeMode::kExact, threads),
       {}},
  };
  for (auto& c : contenders) c.run();  // warm the page cache and code paths
  for (int r = 0; r < rounds; ++r) {
    for (auto& c : contenders) {
      auto start = Clock::now();
      int n = c.run();
      c.seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
      if (n != images) {
        std::fprintf(stderr, "%s hashed %d of %d images\n", c.name.c_str(), n, images);
        return 2;
      }
    }
  }

  std::printf(
      "corpus: %d synthetic manga JPEGs (q85), %.1f MP each on average, %.1f MiB, %d rounds, "
      "median shown\n\n",
      images, megapixels / images, bytes / 1048576.0, rounds);
  std::printf("| contender | images/s | ms/image | vs peer |\n|---|---:|---:|---:|\n");
  double peer_rate = 0;
  std::map<std::string, double> rate;
  for (auto& c : contenders) {
    std::sort(c.seconds.begin(), c.seconds.end());
    double median = c.seconds[c.seconds.size() / 2];
    double r = images / median;
    if (peer_rate == 0) peer_rate = r;
    rate[c.name] = r;
    std::printf("| %s | %.1f | %.2f | %.2fx |\n", c.name.c_str(), r, 1000.0 * median / images,
                r / peer_rate);
  }
  double floor_rate = rate[contenders[1].name];
  double kagami_rate = rate[contenders[2].name];
  std::printf("\nkagami fast vs decode floor: %.2fx the floor's time\n", floor_rate / kagami_rate);
  std::printf("peak RSS of the whole benchmark process: %.1f MiB\n", PeakRssKiB() / 1024.0);
  return 0;
}
