#pragma once

// Parsing the jsonl output of `kagami` commands in tests.

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kagami::testing {

// One JSON value per non-empty line of `out`. A line that is not JSON throws
// (failing the test), unless `skip_non_json` is set for output that mixes in
// human-readable lines (stderr merged into stdout): then only lines starting
// with '{' are parsed.
inline std::vector<nlohmann::json> JsonLines(const std::string& out, bool skip_non_json = false) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || (skip_non_json && line[0] != '{')) continue;
    lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

}  // namespace kagami::testing
