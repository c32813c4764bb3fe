#pragma once

#include <any>
#include <cstddef>
#include <optional>
#include <string>

#include "kagami/base/status.h"
#include "kagami/fingerprint/pdq_hasher.h"

namespace kagami::fingerprint {

// The fingerprint of one page, or why there is none.
struct PageFingerprint {
  size_t volume = 0;      // index into the volumes passed to ExtractVolumes
  size_t asset = 0;       // index into that volume's assets
  std::string member;     // path inside the container ("" for a plain image)
  int page_index = 0;     // 0-based position within the volume
  int sample_index = 0;   // page_index plus the volume's sample_offset (ingest::Volume)
  double scale_hint = 0;  // the volume's (ingest::Volume::scale_hint)
  Status status;          // non-ok: the page could not be read or decoded
  PdqHash pdq;            // valid when status is ok
  std::optional<PdqDihedralHashes> dihedral;  // when ExtractOptions::dihedral
  int decoded_width = 0;  // pixels actually hashed (after any reduced-scale decode)
  int decoded_height = 0;
  std::any annotation;  // whatever ExtractOptions::analyze stored
};

}  // namespace kagami::fingerprint
