#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/volume.h"

namespace kagami::ingest {

// Where in-memory bytes came from: what a finding cites as the source of a page.
struct Provenance {
  std::string url;              // the URL the bytes were fetched from
  int64_t fetched_unix_ms = 0;  // fetch completion time, UTC milliseconds since the epoch
  std::string sha256_hex;       // SHA-256 of `bytes` (64 lowercase hex digits)
  std::string warc_file;        // WARC file holding the response record ("" if none)
  std::string warc_record_id;   // its WARC-Record-ID, "<urn:uuid:...>" ("" if none)
};

// Downloaded bytes (an image, archive, PDF or EPUB) with their provenance.
// `bytes` is shared and never modified once built.
struct MemoryAsset {
  std::shared_ptr<const std::vector<unsigned char>> bytes;
  Provenance provenance;
  int sample_offset = 0;  // the scanned volume's Volume::sample_offset
  double scale_hint = 0;  // the scanned volume's Volume::scale_hint
};

// Builds a MemoryAsset, computing the SHA-256 of `bytes`.
MemoryAsset MakeMemoryAsset(std::vector<unsigned char> bytes, std::string url,
                            int64_t fetched_unix_ms);

// An AssetFile for an in-memory asset: `path` is the URL (a label only, never
// opened), `memory` holds the bytes, kind and media type are sniffed from them.
AssetFile MemoryAssetFile(const MemoryAsset& asset);

// Opens the pages of in-memory bytes, as OpenAsset does for a file: images and
// archives are read from memory; PDFs and EPUBs (whose readers need a file) are
// spilled to a private temporary file that is removed when the source is
// destroyed. Messages name `label` (the URL). Enforces `limits` exactly as
// OpenAsset does (max_file_bytes applies to bytes.size()).
Result<std::unique_ptr<PageSource>> OpenBytes(
    std::shared_ptr<const std::vector<unsigned char>> bytes, const std::string& label,
    const IngestLimits& limits);

}  // namespace kagami::ingest
