#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kagami/base/status.h"

namespace kagami::crawler {

// A small subset of JSONPath (RFC 9535) for image lists inside inline
// scripts: the root `$`, then any sequence of `.name`, `['name']` / `["name"]`,
// `[N]` (array index, negative from the end), `[*]` and `.*` (every member or
// element). No filters, slices, unions or descendant segments. Evaluation
// collects the strings selected (a selected array contributes its string
// elements). Immutable after parsing; thread-safe.
class JsonPath {
 public:
  static Result<JsonPath> Parse(std::string_view text);

  // Finds the JSON values embedded in a script's text (the whole text, or each
  // object or array literal that follows `=`, `(`, `:` or `,` and parses as
  // JSON, e.g. `window.__DATA__ = {...};` or `JSON.parse(...)` arguments left
  // as literals), evaluates the path on each with nlohmann::json, and returns
  // the selected strings in document order, at most `max_results`. Reads at
  // most 8 MiB of `script` and tries at most 256 literals.
  std::vector<std::string> Select(std::string_view script, size_t max_results = 5000) const;

  const std::string& text() const { return text_; }

 private:
  struct Step {
    enum Kind { kName, kIndex, kWildcard } kind = kName;
    std::string name;
    long index = 0;
  };
  std::string text_;
  std::vector<Step> steps_;
};

}  // namespace kagami::crawler
