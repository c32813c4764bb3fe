#pragma once

// The seam between the `kagami` front end (main.cc) and its subcommands. Each
// subcommand lives in its own <name>_command.cc and is listed once in main.cc.

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kagami/base/status.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/pipeline/batch_extractor.h"
#include "kagami/pipeline/registrar.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitFailure = 2;

// Options every subcommand understands.
struct GlobalFlags {
  std::string data_dir;  // "" = $KAGAMI_DATA, else ./kagami-data
  int threads = 0;       // 0 = all cores
  std::string decode;    // "", "exact" or "fast"
  std::string store;     // "" = $KAGAMI_STORE, else SQLite in the data directory
};

// One `kagami` subcommand. Setup() declares it and its options on `app` (the
// options bind to members of the command); Run() executes it after a
// successful parse and returns the process exit code.
class Command {
 public:
  virtual ~Command() = default;
  virtual CLI::App* Setup(CLI::App& app) = 0;
  virtual int Run(const GlobalFlags& flags) = 0;
};

std::unique_ptr<Command> MakeHashCommand();
std::unique_ptr<Command> MakeRegisterCommand();
std::unique_ptr<Command> MakeScanCommand();
std::unique_ptr<Command> MakeWorksCommand();
std::unique_ptr<Command> MakeCrawlCommand();
std::unique_ptr<Command> MakeScheduleCommand();
std::unique_ptr<Command> MakeFindingsCommand();
std::unique_ptr<Command> MakeKeysCommand();
std::unique_ptr<Command> MakeExportCommand();
std::unique_ptr<Command> MakeVerifyCommand();
std::unique_ptr<Command> MakeStoreCommand();

// Declares --data, --threads and --decode (with their defaults) on `app`; main
// calls it for the top-level app and for every subcommand, so the options are
// accepted before or after the subcommand name and listed in its --help.
void AddGlobalOptions(CLI::App& app, GlobalFlags& flags);

// Shared helpers for the commands.
// The findings ledger of --store / $KAGAMI_STORE (SQLite in `data_dir` by default).
Result<std::unique_ptr<reports::FindingsLedger>> OpenLedger(const GlobalFlags& flags,
                                                            const std::filesystem::path& data_dir);
int Fail(const Status& status);  // prints "kagami: <status>" to stderr, returns kExitFailure
ingest::DecodeMode DecodeModeFor(const GlobalFlags& flags, ingest::DecodeMode dflt);
pipeline::ExtractOptions MakeExtractOptions(const GlobalFlags& flags, ingest::DecodeMode dflt);
// Progress on stderr, only when stderr is a terminal; empty otherwise.
pipeline::ProgressFn MakeProgress();
// Who is acting: `flag`, else $KAGAMI_OPERATOR, else $USER, else "unknown".
std::string OperatorName(const std::string& flag);
// `kagami hash` for videos (video_hash.cc): frame lines, then a "unit":"video" line.
void HashVideos(const GlobalFlags& flags, const std::vector<std::string>& paths,
                const ingest::IngestLimits& limits, int& hashed, int& errors);
// Compact one-line JSON; invalid UTF-8 is replaced, never thrown on.
std::string JsonDump(const nlohmann::json& j);

}  // namespace kagami::app
