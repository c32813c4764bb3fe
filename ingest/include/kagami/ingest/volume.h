#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"

namespace kagami::ingest {

// What an input is, decided from its magic bytes (never its extension alone).
enum class MediaKind { kImage, kArchive, kPdf, kEpub, kUnknown };

// One file on disk that holds pages: an image, an archive (CBZ/ZIP, CBR/RAR,
// CB7/7z, TAR), a PDF or an EPUB.
struct AssetFile {
  std::filesystem::path path;
  uint64_t size_bytes = 0;
  MediaKind kind = MediaKind::kUnknown;
  std::string media_type;  // MIME type, e.g. "image/jpeg", "application/zip"
  // Set for an asset held in memory (memory_source.h); `path` is then its label.
  std::shared_ptr<const std::vector<unsigned char>> memory;
};

// A unit of reading: what a verdict is given for. A plain image file, an
// archive/PDF/EPUB, or the loose images of a folder (natural order, recursively).
// Archives, PDFs and EPUBs found inside a folder are volumes of their own.
struct Volume {
  std::string source;             // the path that names the volume (as given or found)
  bool is_folder = false;         // true: `assets` are the folder's loose images
  std::vector<AssetFile> assets;  // page order within the volume follows this order
  Status status;                  // non-ok: the volume could not be enumerated at all
  // Position of the volume's first page within a larger group of volumes that
  // share volume-level evidence (pipeline::ScanOptions::local_sample), e.g.
  // the images of one crawled reader page scanned one at a time; 0 when the
  // volume is a group of its own.
  int sample_offset = 0;
  // The scale (scanned -> registered: 0.8 for pages cropped 10% per side)
  // that a match elsewhere in that group measured, when the caller knows one
  // (a crawled reader page one of whose images matched); 0 when unknown. The
  // local stage's zoomed-out look follows it (index::RobustOptions::crop_zooms).
  double scale_hint = 0;
};

// Sniffs the media kind and MIME type from the first bytes of a file. Give it
// the first 4096 bytes (or the whole file if shorter): TAR's magic sits at 257,
// and EPUB is told from ZIP by its stored first member "mimetype". gzip, bzip2,
// xz and zstd streams count as (compressed TAR) archives. `media_type` may be
// null; unknown content sets "application/octet-stream".
MediaKind SniffMediaKind(const unsigned char* head, size_t n, std::string* media_type);

// Expands user-supplied paths (files and folders) into volumes, in argument
// order. A missing or unreadable path yields a Volume with a non-ok status;
// files of unknown type inside folders are skipped silently; a top-level file
// of unknown type yields a kUnsupported volume. Never throws.
// A folder gives its loose images as one volume (first, if any), then one
// volume per archive/PDF/EPUB inside it, each group in natural order of the
// path relative to the folder. Entries starting with '.' and __MACOSX are
// skipped; symlinks to files are followed, symlinks to folders never (no
// loops); subfolders deeper than max_folder_depth are not entered; more than
// max_folder_files files makes the folder a kResourceExhausted volume; a
// folder with nothing readable is a kNotFound volume.
std::vector<Volume> ExpandInputs(const std::vector<std::string>& paths, const IngestLimits& limits);

// "p2" < "p10", case-insensitive, digit runs compared by value.
bool NaturalLess(std::string_view a, std::string_view b);

}  // namespace kagami::ingest
