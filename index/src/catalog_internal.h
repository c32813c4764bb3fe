#pragma once

// Validation and conversion shared by the catalog backends (catalog.cc,
// pg_catalog.cc), private to kagami_index: both enforce the same limits and
// store identifiers the same way.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kagami/base/status.h"
#include "kagami/index/catalog.h"

namespace kagami::index::internal {

std::string NowIso8601Utc();
std::optional<std::string> NormalizeSha256Impl(std::string_view hex);
// kResourceExhausted when `value` is over Catalog::kMaxTextBytes.
Status CheckText(std::string_view value, std::string_view field);
// The range checks of Catalog::AddAsset for unit `i`.
Status CheckUnit(const UnitRecord& unit, size_t i);
// The checks of Catalog::AddAsset on the asset record and its unit count (each unit is checked
// by CheckUnit); returns the asset's SHA-256 in lower case.
Result<std::string> CheckAsset(const AssetRecord& asset, size_t unit_count);
// NormalizeSha256 of a lookup key, or kInvalidArgument naming it.
Result<std::string> LookupSha256(const std::string& sha256_hex);
Result<std::string> IdentifiersToJson(const std::map<std::string, std::string>& identifiers);
Result<std::map<std::string, std::string>> IdentifiersFromJson(const std::string& text);

// The units of a registered file extracted again (Catalog::AddMissingBlurredHashes,
// Catalog::AddMissingColour), looked up by a stored unit's page: the unit of
// the same page_index and member, provided its PDQ hash equals the stored
// one. Counts the stored units that have none (`mismatched`: another decode,
// or the page is gone). Holds pointers into `units`, which must outlive it.
class ReadAgainPages {
 public:
  explicit ReadAgainPages(const std::vector<UnitRecord>& units);
  // The unit read again for a stored unit's page, or nullptr (counted); a
  // stored hash that cannot be read (nullopt) matches none.
  const UnitRecord* Find(int page_index, const std::string& member,
                         const std::optional<fingerprint::Hash256>& stored_pdq);
  int64_t mismatched() const { return mismatched_; }

 private:
  std::map<std::pair<int, std::string>, const UnitRecord*> by_page_;
  int64_t mismatched_ = 0;
};

}  // namespace kagami::index::internal
