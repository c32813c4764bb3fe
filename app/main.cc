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
  app.option_defaults()->always_capture_default();  // `kagami COMMAND --help` shows defaults
  app.set_version_flag("--version", KAGAMI_VERSION_STRING);
  app.require_subcommand(1);
  GlobalFlags flags;
  AddGlobalOptions(app, flags);

  // One line per subcommand (see command.h).
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(MakeHashCommand());
  commands.push_back(MakeRegisterCommand());
  commands.push_back(MakeScanCommand());
  commands.push_back(MakeWorksCommand());
  commands.push_back(MakeCrawlCommand());
  commands.push_back(MakeScheduleCommand());
  commands.push_back(MakeFindingsCommand());
  commands.push_back(MakeKeysCommand());
  commands.push_back(MakeExportCommand());
  commands.push_back(MakeVerifyCommand());
  commands.push_back(MakeStoreCommand());

  std::vector<std::pair<CLI::App*, Command*>> parsed;
  for (auto& command : commands) {
    CLI::App* sub = command->Setup(app);
    AddGlobalOptions(*sub, flags);  // accepted after the subcommand too
    parsed.emplace_back(sub, command.get());
  }

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
