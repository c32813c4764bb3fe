// The `kagami` command line: parses arguments and runs one subcommand.
// Exit codes: 0 success, 1 usage error, 2 runtime failure (store unusable, or
// every input failed). Per-file errors are reported and do not fail the run.
// Each subcommand lives in its own <name>_command.cc (see command.h).

#include <memory>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"
#include "kagami/ingest/video_decoder.h"

int main(int argc, char** argv) {
  using namespace kagami::app;
  // Damaged media is reported in Kagami's own output; FFmpeg's warnings would only be noise.
  kagami::ingest::SetFfmpegLogging(/*errors_only=*/false);
  CLI::App app{"Kagami: content fingerprinting and piracy detection for manga, anime and film"};
  app.set_version_flag("--version", "kagami 0.1.0");
  app.require_subcommand(1);
  GlobalFlags flags;
  app.add_option("--data", flags.data_dir,
                 "data directory (default: $KAGAMI_DATA, else ./kagami-data)");
  app.add_option("--threads", flags.threads, "worker threads (default: all cores)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--decode", flags.decode,
                 "exact: full-size decode, PDQ-reference hashes (default for hash); fast: "
                 "reduced-scale JPEG decode (default for register and scan)")
      ->check(CLI::IsMember({"exact", "fast"}));

  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeHashCommand());
  commands.push_back(MakeRegisterCommand());
  commands.push_back(MakeScanCommand());
  commands.push_back(MakeWorksCommand());

  std::vector<std::pair<CLI::App*, Command*>> parsed;
  for (auto& command : commands) parsed.emplace_back(command->Setup(app), command.get());

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  for (auto& [sub, command] : parsed) {
    if (*sub) return command->Run(flags);
  }
  return kExitUsage;
}
