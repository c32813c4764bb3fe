#include "kagami/ingest/volume.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string_view>

#include "file_util.h"
#include "kagami/ingest/pixel_decoder.h"

namespace kagami::ingest {
namespace {

namespace fs = std::filesystem;
using namespace std::string_view_literals;

// Enough for every magic number below, the ustar magic at 257 and the first
// local header of an EPUB (30 + "mimetype" + extra field + "application/epub+zip").
constexpr size_t kSniffBytes = 4096;

uint16_t Le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

bool IsEpubZip(const unsigned char* head, size_t n) {
  // APPNOTE.TXT 4.3.7 local file header; EPUB OCF 3.0 section 4.3: the first
  // member is "mimetype", stored, holding "application/epub+zip".
  constexpr size_t kLocalHeaderBytes = 30;
  if (n < kLocalHeaderBytes) return false;
  uint16_t method = Le16(head + 8);
  size_t name_len = Le16(head + 26);
  size_t extra_len = Le16(head + 28);
  if (name_len != 8 || n < kLocalHeaderBytes + name_len) return false;
  if (std::memcmp(head + kLocalHeaderBytes, "mimetype", 8) != 0) return false;
  if (method != 0) return false;
  constexpr std::string_view kEpubType = "application/epub+zip";
  size_t data = kLocalHeaderBytes + name_len + extra_len;
  return n >= data + kEpubType.size() &&
         std::memcmp(head + data, kEpubType.data(), kEpubType.size()) == 0;
}

char NaturalKeyChar(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  if (c == '/') return '\x01';  // Folder contents sort before siblings with longer names.
  return c;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// <0, 0, >0. Equal means equal up to case and leading zeros.
int NaturalCompare(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (IsDigit(a[i]) && IsDigit(b[j])) {
      size_t i_end = i, j_end = j;
      while (i_end < a.size() && IsDigit(a[i_end])) ++i_end;
      while (j_end < b.size() && IsDigit(b[j_end])) ++j_end;
      while (i < i_end && a[i] == '0') ++i;
      while (j < j_end && b[j] == '0') ++j;
      size_t a_len = i_end - i, b_len = j_end - j;
      if (a_len != b_len) return a_len < b_len ? -1 : 1;
      int c = a.substr(i, a_len).compare(b.substr(j, b_len));
      if (c != 0) return c;
      i = i_end;
      j = j_end;
      continue;
    }
    unsigned char ca = static_cast<unsigned char>(NaturalKeyChar(a[i]));
    unsigned char cb = static_cast<unsigned char>(NaturalKeyChar(b[j]));
    if (ca != cb) return ca < cb ? -1 : 1;
    ++i;
    ++j;
  }
  bool a_done = i == a.size(), b_done = j == b.size();
  if (a_done && b_done) return 0;
  return a_done ? -1 : 1;
}

Result<AssetFile> SniffFile(const fs::path& path) {
  KAGAMI_ASSIGN_OR_RETURN(std::vector<unsigned char> head,
                          internal::ReadFileHead(path, kSniffBytes));
  AssetFile asset;
  asset.path = path;
  std::error_code ec;
  asset.size_bytes = fs::file_size(path, ec);
  if (ec) return ErrnoStatus(ec.value(), "stat " + path.string());
  asset.kind = SniffMediaKind(head.data(), head.size(), &asset.media_type);
  return asset;
}

Volume ErrorVolume(std::string source, bool is_folder, Status status) {
  Volume volume;
  volume.source = std::move(source);
  volume.is_folder = is_folder;
  volume.status = std::move(status);
  return volume;
}

struct FolderWalk {
  const IngestLimits* limits = nullptr;
  std::vector<std::string> relative_files;  // generic ('/') paths under the root
  Status status;
};

// Directory symlinks are never entered (no loops, no escaping the folder);
// file symlinks are followed. Hidden entries and __MACOSX are skipped.
// Subfolders deeper than max_folder_depth are not entered.
void Walk(const fs::path& dir, const std::string& prefix, int depth, FolderWalk* walk) {
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    if (depth == 0) walk->status = ErrnoStatus(ec.value(), "list folder " + dir.string());
    return;  // An unreadable subfolder contributes nothing.
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      if (depth == 0) walk->status = ErrnoStatus(ec.value(), "list folder " + dir.string());
      return;
    }
    std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.' || name == "__MACOSX") continue;
    fs::file_status link_status = it->symlink_status(ec);
    if (ec) continue;
    bool is_file = fs::is_regular_file(link_status);
    if (fs::is_symlink(link_status)) {
      fs::file_status target = it->status(ec);
      if (ec) continue;
      is_file = fs::is_regular_file(target);
    } else if (fs::is_directory(link_status)) {
      if (depth + 1 > walk->limits->max_folder_depth) continue;
      Walk(it->path(), prefix + name + "/", depth + 1, walk);
      if (!walk->status.ok()) return;
      continue;
    }
    if (!is_file) continue;
    if (walk->relative_files.size() >= walk->limits->max_folder_files) {
      walk->status = Status::ResourceExhausted(
          "folder holds more than " + std::to_string(walk->limits->max_folder_files) +
          " files (max_folder_files); split it or pass subfolders separately");
      return;
    }
    walk->relative_files.push_back(prefix + name);
  }
}

void ExpandFolder(const std::string& source, const IngestLimits& limits, std::vector<Volume>* out) {
  FolderWalk walk;
  walk.limits = &limits;
  fs::path root(source);
  Walk(root, "", 0, &walk);
  if (!walk.status.ok()) {
    out->push_back(ErrorVolume(source, true, walk.status.WithContext(source)));
    return;
  }
  std::sort(walk.relative_files.begin(), walk.relative_files.end(),
            [](const std::string& a, const std::string& b) { return NaturalLess(a, b); });

  Volume loose;
  loose.source = source;
  loose.is_folder = true;
  std::vector<Volume> containers;
  for (const std::string& relative : walk.relative_files) {
    fs::path path = root / relative;
    Result<AssetFile> asset = SniffFile(path);
    if (!asset.ok()) continue;  // Vanished or unreadable since listing: nothing to read.
    switch (asset->kind) {
      case MediaKind::kImage:
        loose.assets.push_back(std::move(asset).value());
        break;
      case MediaKind::kArchive:
      case MediaKind::kPdf:
      case MediaKind::kEpub: {
        Volume volume;
        volume.source = path.string();
        volume.assets.push_back(std::move(asset).value());
        containers.push_back(std::move(volume));
        break;
      }
      case MediaKind::kUnknown:
        break;
    }
  }
  if (loose.assets.empty() && containers.empty()) {
    out->push_back(ErrorVolume(
        source, true,
        Status::NotFound(source + ": folder holds no images, archives, PDFs or EPUBs")));
    return;
  }
  if (!loose.assets.empty()) out->push_back(std::move(loose));
  for (Volume& volume : containers) out->push_back(std::move(volume));
}

void ExpandOne(const std::string& source, const IngestLimits& limits, std::vector<Volume>* out) {
  std::error_code ec;
  fs::path path(source);
  fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    out->push_back(
        ErrorVolume(source, false, ErrnoStatus(ec ? ec.value() : ENOENT, "open " + source)));
    return;
  }
  if (fs::is_directory(status)) {
    ExpandFolder(source, limits, out);
    return;
  }
  if (!fs::is_regular_file(status)) {
    out->push_back(ErrorVolume(source, false,
                               Status::Unsupported(source + ": not a regular file or a folder")));
    return;
  }
  Result<AssetFile> asset = SniffFile(path);
  if (!asset.ok()) {
    out->push_back(ErrorVolume(source, false, asset.status()));
    return;
  }
  if (asset->kind == MediaKind::kUnknown) {
    out->push_back(ErrorVolume(
        source, false,
        Status::Unsupported(source +
                            ": not an image, archive, PDF or EPUB (unrecognised content)")));
    return;
  }
  Volume volume;
  volume.source = source;
  volume.assets.push_back(std::move(asset).value());
  out->push_back(std::move(volume));
}

}  // namespace

MediaKind SniffMediaKind(const unsigned char* head, size_t n, std::string* media_type) {
  auto at = [&](size_t offset, std::string_view magic) {
    return n >= offset + magic.size() &&
           std::memcmp(head + offset, magic.data(), magic.size()) == 0;
  };
  auto found = [&](MediaKind kind, const char* type) {
    if (media_type != nullptr) *media_type = type;
    return kind;
  };
  // Images.
  std::string_view image = SniffImageType(head, n);
  if (!image.empty()) {
    if (media_type != nullptr) *media_type = std::string(image);
    return MediaKind::kImage;
  }
  // Documents. PDF readers accept the header anywhere in the first 1024 bytes.
  std::string_view text(reinterpret_cast<const char*>(head), std::min<size_t>(n, 1024));
  if (text.find("%PDF-"sv) != std::string_view::npos) {
    return found(MediaKind::kPdf, "application/pdf");
  }
  // Archives.
  if (at(0, "PK\x03\x04"sv)) {
    if (IsEpubZip(head, n)) return found(MediaKind::kEpub, "application/epub+zip");
    return found(MediaKind::kArchive, "application/zip");
  }
  if (at(0, "PK\x05\x06"sv) || at(0, "PK\x07\x08"sv)) {
    return found(MediaKind::kArchive, "application/zip");
  }
  if (at(0, "Rar!\x1A\x07\x00"sv) || at(0, "Rar!\x1A\x07\x01\x00"sv)) {
    return found(MediaKind::kArchive, "application/vnd.rar");
  }
  if (at(0, "7z\xBC\xAF\x27\x1C"sv))
    return found(MediaKind::kArchive, "application/x-7z-compressed");
  if (at(257, "ustar"sv)) return found(MediaKind::kArchive, "application/x-tar");
  // Compressed streams: taken to be tarballs; libarchive says otherwise when opened.
  if (at(0, "\x1F\x8B"sv)) return found(MediaKind::kArchive, "application/gzip");
  if (at(0, "BZh"sv)) return found(MediaKind::kArchive, "application/x-bzip2");
  if (at(0,
         "\xFD"
         "7zXZ\0"sv))
    return found(MediaKind::kArchive, "application/x-xz");
  if (at(0, "\x28\xB5\x2F\xFD"sv)) return found(MediaKind::kArchive, "application/zstd");
  return found(MediaKind::kUnknown, "application/octet-stream");
}

std::vector<Volume> ExpandInputs(const std::vector<std::string>& paths,
                                 const IngestLimits& limits) {
  std::vector<Volume> volumes;
  for (const std::string& path : paths) {
    try {
      ExpandOne(path, limits, &volumes);
    } catch (const std::exception& e) {
      volumes.push_back(
          ErrorVolume(path, false, Status::Internal(path + ": expanding input: " + e.what())));
    }
  }
  return volumes;
}

bool NaturalLess(std::string_view a, std::string_view b) {
  int c = NaturalCompare(a, b);
  if (c != 0) return c < 0;
  return a < b;  // Total order: "p01" and "p1", "A" and "a" still differ.
}

}  // namespace kagami::ingest
