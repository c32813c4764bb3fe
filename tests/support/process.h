#pragma once

// Background processes and their output files, for tests that run `kagami`
// (crawls, workers, daemons) beside servers and kill or signal them.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace kagami::testing {

// The whole file; "" when it cannot be read.
inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The non-empty lines of `text`.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

// Starts `args` (argv[0] looked up in PATH) with stdout and stderr to `log`;
// returns the pid, or -1 when fork fails. The child exits 127 if exec fails.
inline pid_t Spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid`: its exit status, or minus the signal that killed it.
inline int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// Waits until `path` exists (a server's port file), polling every 50 ms for
// at most `limit` (generous: servers start slowly on a loaded machine).
// Returns whether it appeared.
inline bool WaitForFile(const std::filesystem::path& path,
                        std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// The port a server started with "--port-file `port_file`" listens on, once
// it has written it (WaitForFile); 0 when it never did (its log says why).
inline int WaitForPort(const std::filesystem::path& port_file) {
  return WaitForFile(port_file) ? std::stoi(ReadText(port_file)) : 0;
}

// Stops a process started by Spawn (SIGTERM, then waits for it) and sets
// `pid` to -1; nothing when it is not running (pid <= 0).
inline void Stop(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  Wait(pid);
  pid = -1;
}

// Stops a process started by Spawn when it goes out of scope, a test's early
// return on a failed ASSERT included. Holds a reference: `pid` must outlive it.
class StopOnExit {
 public:
  explicit StopOnExit(pid_t& pid) : pid_(pid) {}
  StopOnExit(const StopOnExit&) = delete;
  StopOnExit& operator=(const StopOnExit&) = delete;
  ~StopOnExit() { Stop(pid_); }

 private:
  pid_t& pid_;
};

}  // namespace kagami::testing
