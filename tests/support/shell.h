#pragma once

// Running commands from tests: shell lines and the `kagami` binary under test
// (KAGAMI_BINARY, defined by tests/CMakeLists.txt). Blocks until the command
// exits; not for commands that must run in the background.

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace kagami::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when the command could not be started or was killed by a signal
  std::string out;     // stdout, plus stderr when merged
};

enum class Stderr { kDiscard, kMerge };

// `s` as one single-quoted word for /bin/sh.
inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

// Runs `command` with /bin/sh and collects its output.
inline CommandResult RunShell(const std::string& command, Stderr err = Stderr::kDiscard) {
  CommandResult result;
  const std::string full = command + (err == Stderr::kMerge ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

#ifdef KAGAMI_BINARY
// Runs the kagami binary under test with `args` (each quoted), after the
// optional environment assignments in `env` (e.g. "KAGAMI_OPERATOR=tester ").
inline CommandResult RunKagami(const std::vector<std::string>& args, Stderr err = Stderr::kDiscard,
                               const std::string& env = "") {
  std::string cmd = env + ShellQuote(KAGAMI_BINARY);
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  return RunShell(cmd, err);
}

// Registers the folder `reg` as work `work` (kind "other", title `title`) in
// the store at `data`, then scans `suspect` with `--record --format jsonl`,
// stderr merged. The scan's result, or the registration's when it failed.
inline CommandResult RegisterAndScanRecorded(const std::string& data, const std::string& work,
                                             const std::string& title, const std::string& reg,
                                             const std::string& suspect) {
  const CommandResult r = RunKagami(
      {"--data", data, "register", "--work", work, "--title", title, "--kind", "other", reg},
      Stderr::kMerge);
  if (r.exit_code != 0) return r;
  return RunKagami({"--data", data, "scan", "--record", "--format", "jsonl", suspect},
                   Stderr::kMerge);
}

// Makes a signing key for the store at `data`, exports its findings to
// `bundle` and verifies the bundle, from the command line. Returns the
// bundle's report.html, or "" when a step failed (its output in `failure`).
inline std::string ExportVerifiedReport(const std::string& data, const std::string& bundle,
                                        std::string* failure) {
  const std::vector<std::vector<std::string>> steps = {{"--data", data, "keys", "init"},
                                                       {"--data", data, "export", "--out", bundle},
                                                       {"verify", bundle}};
  for (const std::vector<std::string>& step : steps) {
    const CommandResult r = RunKagami(step, Stderr::kMerge);
    if (r.exit_code != 0) {
      *failure = step[step.size() > 2 ? 2 : 0] + ": " + r.out;
      return "";
    }
  }
  std::string report;
  if (FILE* f = std::fopen((bundle + "/report.html").c_str(), "rb")) {
    std::array<char, 4096> buffer;
    for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0;)
      report.append(buffer.data(), n);
    std::fclose(f);
  }
  return report;
}
#endif

}  // namespace kagami::testing
