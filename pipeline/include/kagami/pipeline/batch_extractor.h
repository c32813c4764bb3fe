#pragma once

#include <any>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/fingerprint/page_fingerprint.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/volume.h"

namespace kagami::pipeline {

using fingerprint::PageFingerprint;
using fingerprint::PdqHasher;

struct ExtractOptions {
  ingest::DecodeOptions decode;
  ingest::IngestLimits limits;
  bool dihedral = false;  // also compute the 8 dihedral variants of each page
  int threads = 0;        // worker threads; 0 = all hardware threads
  size_t max_tokens = 0;  // pages in flight at once (bounds memory); 0 = 2 * threads
  bool sha256 = false;    // compute each asset's content SHA-256 before reading it
  // Called (from the pipeline's serial input stage) with an asset's SHA-256
  // when `sha256` is set; returning true skips the asset without decoding it.
  // Must be thread-safe with respect to the sink callbacks.
  // `volume` and `asset` index the volumes passed to ExtractVolumes, as in
  // PageFingerprint; called in asset order, before any page of the asset is
  // read, so a decision it records is seen by `analyze` for the asset's pages
  // (given the caller's own synchronisation).
  std::function<bool(size_t volume, size_t asset, const std::string& sha256_hex)> skip_asset;
  // Optional extra work per page, run in the parallel stage right after PDQ
  // hashing while the decoded pixels are in memory: `pixels` as hashed (CV_8UC1
  // luminance or CV_8UC3 RGB), `encoded` the page as read (to re-decode at
  // another scale), `hasher` the calling thread's own hasher. Runs on several
  // threads at once, so it must be thread-safe; it stores its results in
  // page.annotation. Not called for pages that failed to decode. Anything it
  // (or decoding and hashing) throws becomes that page's error status.
  std::function<void(const cv::Mat& pixels, const ingest::EncodedPage& encoded, PdqHasher& hasher,
                     PageFingerprint& page)>
      analyze;
  // When set and it becomes true, no further asset is opened and no further
  // page is read: the pages in flight are finished and ExtractVolumes returns
  // (a sink that hits a fatal error, e.g. the store failing, sets it).
  const std::atomic<bool>* stop = nullptr;
};

// Receives results strictly in input order, on one thread at a time (the
// pipeline's serial output stage). Callbacks must not throw.
class ExtractSink {
 public:
  virtual ~ExtractSink() = default;
  // The asset is about to be read. `sha256_hex` is empty unless requested.
  // `skipped`: ExtractOptions::skip_asset returned true; no pages will follow.
  virtual void BeginAsset(size_t volume, size_t asset, const std::string& sha256_hex,
                          bool skipped) = 0;
  virtual void OnPage(PageFingerprint page) = 0;
  // `status` is non-ok when the asset could not be opened at all.
  virtual void EndAsset(size_t volume, size_t asset, const Status& status) = 0;
  virtual void EndVolume(size_t volume) = 0;
};

// Reads, decodes and hashes every page of `volumes` as a TBB pipeline:
// read (serial, in order) -> decode + hash (parallel) -> sink (serial, in order).
// At most max_tokens pages are in memory at once. One bad page or asset never
// stops the batch: it is reported through the sink, including any exception
// thrown while reading, decoding, hashing or analysing it. Volumes whose status is not
// ok produce only EndVolume. Blocks until done.
void ExtractVolumes(const std::vector<ingest::Volume>& volumes, const ExtractOptions& options,
                    ExtractSink& sink);

}  // namespace kagami::pipeline
