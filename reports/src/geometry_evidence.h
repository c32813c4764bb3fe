#pragma once

// The geometric verification's measurements of a local-feature match
// (GeometryEvidence), one set of keys for every report: the scan report's
// "verification" and the findings ledger's "geometry".

#include <nlohmann/json.hpp>

#include "kagami/pipeline/scanner.h"
#include "kagami/reports/findings_ledger.h"

namespace kagami::reports::internal {

// The measurements of a page match (meaningful when m.inliers > 0).
GeometryEvidence GeometryOf(const pipeline::PageMatchRecord& m);

// Every field; real numbers rounded to `decimals` (non-finite ones as 0).
// distinct_inliers and layout_keypoints are -1 when the layout check did not
// run.
nlohmann::json GeometryToJson(const GeometryEvidence& g, int decimals);

}  // namespace kagami::reports::internal
