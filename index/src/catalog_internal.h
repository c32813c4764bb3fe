#pragma once

// Validation and conversion shared by the catalog backends (catalog.cc,
// pg_catalog.cc), private to kagami_index: both enforce the same limits and
// store identifiers the same way.

#include <map>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace kagami::index::internal
