// `kagami-hash`: the lean `kagami hash` for a few plain image files, which is
// how scripts call it (once per file). It links only base, the OpenCV-free
// image decoders (kagami/ingest/pixel_decoder.h: TurboJPEG, libpng, giflib,
// libavif through dlopen) and the PDQ hasher, so it starts in a fraction of
// kagami-core's time (62 shared libraries: OpenCV, FAISS and BLAS, poppler,
// libarchive, FFmpeg). The launcher (launcher.cc) sends every `hash` here.
//
// Contract: for what it handles, stdout and the exit code are byte-identical
// to `kagami-core hash` with the same arguments (tests/e2e/lean_hash_test.cc
// compares both). It handles: the options hash accepts (--dihedral, --decode,
// --threads, --data, before or after `hash`), and 1..kMaxLeanInputs paths
// that are regular files with an image extension whose content sniffs as
// JPEG, PNG, GIF or AVIF. For anything else (folders, archives, PDFs, EPUBs,
// videos, other formats, --help, unusual or invalid arguments, larger
// batches, which kagami-core's parallel pipeline hashes faster) it replaces
// itself with kagami-core (execv, same arguments), which is the authority.
// The four formats it takes never need OpenCV (pixel_decoder.h), so its
// decoder runs without a fallback.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "file_util.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/pixel_decoder.h"

namespace kagami::app {
namespace {

namespace fs = std::filesystem;

// Batches larger than this go to kagami-core, whose pipeline decodes in
// parallel; start-up matters only for a few files.
constexpr size_t kMaxLeanInputs = 8;
constexpr size_t kSniffBytes = 4096;

struct Arguments {
  bool dihedral = false;
  std::string decode;  // "", "exact" or "fast"
  std::vector<std::string> paths;
};

std::string SelfDirectory() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::string dir(self);
  return dir.erase(dir.rfind('/') + 1);
}

// kagami-core with the original arguments; returns only if exec failed.
int ExecCore(char** argv) {
  std::string core = SelfDirectory() + "kagami-core";
  ::execv(core.c_str(), argv);
  std::fprintf(stderr, "kagami: cannot run %s: %s\n", core.c_str(), std::strerror(errno));
  return 2;
}

bool IsCount(std::string_view s) {  // what CLI11 reads as 0..1024, conservatively
  if (s.empty() || s.size() > 4 || (s.size() > 1 && s[0] == '0')) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  return std::stoi(std::string(s)) <= 1024;
}

// False for anything this program does not reproduce exactly (kagami-core then
// parses it and gives the answer or the usage error).
bool Parse(int argc, char** argv, Arguments* out) {
  bool seen_hash = false, seen_dihedral = false, seen_decode = false, seen_threads = false,
       seen_data = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg, value;
    bool inline_value = false;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string_view::npos) {
      name = arg.substr(0, arg.find('='));
      value = arg.substr(arg.find('=') + 1);
      inline_value = true;
    }
    auto take_value = [&]() -> bool {
      if (inline_value) return true;
      if (i + 1 >= argc || argv[i + 1][0] == '-' || argv[i + 1][0] == '\0') return false;
      value = argv[++i];
      return true;
    };
    if (name == "--dihedral" && !inline_value) {
      if (!seen_hash || seen_dihedral) return false;
      seen_dihedral = out->dihedral = true;
    } else if (name == "--decode") {
      if (seen_decode || !take_value() || (value != "exact" && value != "fast")) return false;
      seen_decode = true;
      out->decode = std::string(value);
    } else if (name == "--threads") {
      if (seen_threads || !take_value() || !IsCount(value)) return false;
      seen_threads = true;  // output does not depend on it
    } else if (name == "--data") {
      if (seen_data || !take_value() || value.empty()) return false;
      seen_data = true;  // hash uses no data directory
    } else if (arg.empty() || arg[0] == '-') {
      return false;
    } else if (!seen_hash) {
      if (arg != "hash") return false;
      seen_hash = true;
    } else {
      out->paths.emplace_back(arg);
    }
  }
  return seen_hash && !out->paths.empty() && out->paths.size() <= kMaxLeanInputs;
}

bool HasImageExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::string_view kExts[] = {".jpg", ".jpeg", ".jpe", ".jfif",
                                               ".png", ".gif",  ".avif"};
  return std::find(std::begin(kExts), std::end(kExts), ext) != std::end(kExts);
}

// A plain JPEG/PNG/GIF/AVIF file that kagami-core would read as one image
// page (and not, by its ISO BMFF brand, as a video).
bool IsLeanImage(const std::string& source, const ingest::IngestLimits& limits) {
  const fs::path path(source);
  if (!HasImageExtension(path)) return false;
  std::error_code ec;
  if (!fs::is_regular_file(fs::status(path, ec)) || ec) return false;
  uint64_t size = fs::file_size(path, ec);
  if (ec || size > limits.max_file_bytes) return false;
  Result<std::vector<unsigned char>> head = ingest::internal::ReadFileHead(path, kSniffBytes);
  if (!head.ok()) return false;
  const std::vector<unsigned char>& h = *head;
  const std::string_view type = ingest::SniffImageType(h.data(), h.size());
  if (type != "image/jpeg" && type != "image/png" && type != "image/gif" && type != "image/avif") {
    return false;
  }
  auto at = [&](size_t offset, std::string_view magic) {
    return h.size() >= offset + magic.size() &&
           std::memcmp(h.data() + offset, magic.data(), magic.size()) == 0;
  };
  // kagami-core takes ISO BMFF files of other major brands for video.
  if (at(4, "ftyp") && !(at(8, "avif") || at(8, "avis") || at(8, "heic") || at(8, "mif1"))) {
    return false;
  }
  return true;
}

std::string JsonDump(const nlohmann::json& j) {  // as kagami-core's common.cc
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PrintLine(const nlohmann::json& j) {
  std::string line = JsonDump(j);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

int Run(const Arguments& args) {
  const ingest::IngestLimits limits;
  ingest::DecodeOptions options;
  options.mode = args.decode == "fast" ? ingest::DecodeMode::kFast : ingest::DecodeMode::kExact;
  fingerprint::PdqHasher hasher;
  int hashed = 0, errors = 0;
  for (const std::string& path : args.paths) {
    nlohmann::json j;
    j["file"] = path;
    j["member"] = "";
    j["unit"] = "page";
    j["index"] = 0;
    Status status;
    ingest::VectorPixelStore store;
    try {
      Result<std::vector<unsigned char>> bytes = ingest::internal::ReadWholeFile(
          path, std::min(limits.max_file_bytes, limits.max_entry_bytes));
      status = bytes.ok() ? ingest::DecodePixels(bytes->data(), bytes->size(), options, limits,
                                                 store, /*fallback=*/{})
                                .status()
                          : bytes.status();
    } catch (const std::bad_alloc&) {
      status = Status::ResourceExhausted(path + ": out of memory reading");
    }
    if (!status.ok()) {
      j["error"] = status.ToString();
      ++errors;
    } else if (args.dihedral) {
      fingerprint::PdqDihedralHashes all = hasher.HashDihedral(store.view());
      j["pdq"] = all.hashes[fingerprint::kOriginal].ToHex();
      j["quality"] = all.quality;
      nlohmann::json d = nlohmann::json::array();
      for (const auto& h : all.hashes) d.push_back(h.ToHex());
      j["dihedral"] = d;
      ++hashed;
    } else {
      fingerprint::PdqHash pdq = hasher.Hash(store.view());
      j["pdq"] = pdq.hash.ToHex();
      j["quality"] = pdq.quality;
      ++hashed;
    }
    PrintLine(j);
  }
  std::fflush(stdout);
  return hashed == 0 && errors > 0 ? 2 : 0;
}

}  // namespace
}  // namespace kagami::app

int main(int argc, char** argv) {
  using namespace kagami::app;
  // `hash` never uses BLAS: keep OpenBLAS in kagami-core from starting its thread pool.
  ::setenv("OPENBLAS_NUM_THREADS", "1", 0);
  Arguments args;
  if (!Parse(argc, argv, &args)) return ExecCore(argv);
  const kagami::ingest::IngestLimits limits;
  for (const std::string& path : args.paths) {
    if (!IsLeanImage(path, limits)) return ExecCore(argv);
  }
  return Run(args);
}
