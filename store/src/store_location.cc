#include "kagami/store/store_location.h"

#include <cstdlib>

#include "kagami/store/pg_connection.h"

namespace kagami::store {

std::string StoreLocation::Display() const {
  return postgres() ? RedactConninfo(conninfo) : "sqlite:" + data_dir.string();
}

Result<StoreLocation> ResolveStoreLocation(const std::string& flag,
                                           const std::filesystem::path& data_dir) {
  std::string spec = flag;
  std::string from = "--store";
  if (spec.empty()) {
    const char* env = std::getenv("KAGAMI_STORE");
    if (env != nullptr) spec = env;
    from = "$KAGAMI_STORE";
  }
  StoreLocation loc;
  loc.data_dir = data_dir;
  if (spec.empty() || spec == "sqlite") return loc;
  if (spec.rfind("sqlite:", 0) == 0) {
    loc.data_dir = spec.substr(7);
    if (loc.data_dir.empty()) return Status::InvalidArgument(from + ": sqlite: needs a directory");
    return loc;
  }
  if (spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0 ||
      spec.find('=') != std::string::npos) {
    loc.kind = StoreLocation::Kind::kPostgres;
    loc.conninfo = spec;
    return loc;
  }
  return Status::InvalidArgument(
      from + " \"" + RedactConninfo(spec) +
      "\": give postgresql://USER@HOST/DB, a libpq key=value string (\"host=/run/postgresql "
      "dbname=kagami\"), sqlite or sqlite:DIR");
}

}  // namespace kagami::store
