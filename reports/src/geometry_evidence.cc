#include "geometry_evidence.h"

#include <cmath>

namespace kagami::reports::internal {

GeometryEvidence GeometryOf(const pipeline::PageMatchRecord& m) {
  const fingerprint::Verification& v = m.verification;
  GeometryEvidence g;
  g.matches = v.matches;
  g.inliers = v.inliers;
  g.distinct_inliers = m.distinct_inliers;
  g.layout_keypoints = m.boilerplate_keypoints;
  g.coverage = v.coverage;
  g.coverage_of = m.content_frame ? "content" : "page";
  g.overlap = v.overlap;
  g.overlap_coverage = v.overlap_coverage;
  g.grid_cells = v.grid_cells;
  g.scale = v.scale;
  g.anisotropy = v.anisotropy;
  g.rotation_deg = v.rotation_deg;
  g.perspective = v.perspective;
  g.model = v.model;
  g.projective_gain = v.projective_gain;
  g.accepted_by = v.by_appearance ? "appearance" : "geometry";
  if (v.appearance.measured) {
    g.appearance = v.appearance.correlation;
    g.appearance_compared = v.appearance.compared;
  }
  return g;
}

nlohmann::json GeometryToJson(const GeometryEvidence& g, int decimals) {
  const double unit = std::pow(10.0, decimals);
  auto round = [unit](double x) { return std::isfinite(x) ? std::round(x * unit) / unit : 0.0; };
  return {{"matches", g.matches},
          {"inliers", g.inliers},
          {"distinct_inliers", g.distinct_inliers},
          {"layout_keypoints", g.layout_keypoints},
          {"coverage", round(g.coverage)},
          {"coverage_of", g.coverage_of},
          {"overlap", round(g.overlap)},
          {"overlap_coverage", round(g.overlap_coverage)},
          {"grid_cells", g.grid_cells},
          {"scale", round(g.scale)},
          {"anisotropy", round(g.anisotropy)},
          {"rotation_deg", round(g.rotation_deg)},
          {"perspective", round(g.perspective)},
          {"model", g.model},
          {"projective_gain", round(g.projective_gain)},
          {"accepted_by", g.accepted_by},
          {"appearance", g.appearance < -1 ? -2.0 : round(g.appearance)},
          {"appearance_compared", round(g.appearance_compared)}};
}

}  // namespace kagami::reports::internal
