#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "command.h"

namespace kagami::app {

void AddGlobalOptions(CLI::App& app, GlobalFlags& flags) {
  app.add_option("--data", flags.data_dir, "data directory")
      ->default_str("$KAGAMI_DATA, else ./kagami-data")
      ->group("Global options");
  app.add_option("--threads", flags.threads, "worker threads; 0 = all cores")
      ->check(CLI::Range(0, 1024))
      ->group("Global options");
  app.add_option("--decode", flags.decode,
                 "exact: full-size decode, PDQ-reference hashes; fast: reduced-scale JPEG "
                 "decode, luminance only")
      ->check(CLI::IsMember({"exact", "fast"}))
      ->default_str("exact for hash, fast for register and scan")
      ->group("Global options");
  app.add_option("--store", flags.store,
                 "shared store for the frontier and findings ledger: postgresql://USER@HOST/DB "
                 "or a libpq key=value string (README 'Deployment')")
      ->default_str("$KAGAMI_STORE, else SQLite in the data directory")
      ->group("Global options");
}

int Fail(const Status& status) {
  std::cerr << "kagami: " << status.ToString() << '\n';
  return kExitFailure;
}

kagami::ingest::DecodeMode DecodeModeFor(const GlobalFlags& flags,
                                         kagami::ingest::DecodeMode dflt) {
  if (flags.decode == "exact") return kagami::ingest::DecodeMode::kExact;
  if (flags.decode == "fast") return kagami::ingest::DecodeMode::kFast;
  return dflt;
}

kagami::pipeline::ExtractOptions MakeExtractOptions(const GlobalFlags& flags,
                                                    kagami::ingest::DecodeMode dflt) {
  kagami::pipeline::ExtractOptions options;
  options.decode.mode = DecodeModeFor(flags, dflt);
  options.threads = flags.threads;
  return options;
}

// Progress on stderr, only when stderr is a terminal.
kagami::pipeline::ProgressFn MakeProgress() {
  if (!isatty(STDERR_FILENO)) return {};
  return [](const kagami::pipeline::Progress& p) {
    std::fprintf(stderr, "\r%zu/%zu inputs, %zu pages", p.volumes_done, p.volumes_total,
                 p.pages_done);
    if (p.volumes_done == p.volumes_total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

std::string JsonDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kagami::app
