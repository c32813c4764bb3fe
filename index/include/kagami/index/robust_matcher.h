#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <opencv2/core.hpp>

#include "kagami/fingerprint/geometric_verifier.h"
#include "kagami/fingerprint/local_features.h"
#include "kagami/fingerprint/page_fingerprint.h"
#include "kagami/fingerprint/page_normalizer.h"
#include "kagami/fingerprint/pdq_hasher.h"
#include "kagami/fingerprint/quantised_features.h"
#include "kagami/index/boilerplate.h"
#include "kagami/index/inverted_file.h"
#include "kagami/index/matcher.h"
#include "kagami/index/store.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/limits.h"
#include "kagami/ingest/page_source.h"

namespace kagami::index {

// When the local-feature stage runs for a scanned page.
enum class LocalStage {
  kNever,   // PDQ (with normalised views) only
  kAuto,    // only for pages without a strong PDQ hit (the default)
  kAlways,  // every page: also verifies strong PDQ hits ("method":"both")
};

// A cheap first look for the local stage (RobustMatcher::RunLocalStage) of a
// page that has no PDQ candidate: most scanned pages match nothing, and the
// full stage (500 ORB keypoints at long side 800, plus 1000 at page height for
// landscape pages, gate, up to 12 candidates verified) costs 8-16x a PDQ-only
// scan of them. The cascade describes the page decoded for the local stage
// with few keypoints and pyramid levels (no second scale for landscape pages),
// gates them on the same inverted file, and verifies the best `candidates`
// pages with the cheap RANSAC (a tenth of verify's iterations). The full stage
// runs only when one of them reaches `min_inliers` RANSAC inliers (not
// acceptance: the cheap description is too coarse to accept anything).
//
// OFF by default: on real images it does not separate true pages from
// unrelated ones cheaply enough (bench/RESULTS.md section 11, "Cascade";
// kagami_bench_real_calibration --max 12, 200 true pages the full stage
// accepts, 58 unrelated images, one score per query):
//   height 400 from PDQ's pixels, 150 keypoints: true p5/p25/p50 3/3/4
//     inliers, unrelated max 7; min_inliers 4 loses 66 true pages.
//   height 800, 3 levels, 150 keypoints (these defaults): true p5/p25/p50
//     4/12/24, unrelated p95/max 7/16; min_inliers 4 loses 10 true pages and
//     lets 41 of 58 unrelated images through, 8 loses 31 and lets 1 through;
//     the cascade itself costs ~45% of the full stage (ORB is pixel-bound).
// A true page below min_inliers is lost, so enabling it trades recall for
// speed; the defaults below are the measured best trade-off, not a free one.
struct LocalCascadeOptions {
  bool enabled = false;
  // The page is described at this height in pixels (a landscape query shows
  // pages at its full height), long side at most max_long_side and never above
  // the decoded pixels'. Registered pages are described at long side 800:
  // lower heights lose typeset pages (their keypoints are glyph-sized).
  int height = 800;
  int max_long_side = 1000;
  // ORB keypoints for a portrait or square page; a landscape one gets this
  // times its aspect ratio (width / height), at most 2.5 times.
  int keypoints = 150;
  // ORB pyramid levels (factor 1.2).
  int pyramid_levels = 3;
  // Best gate candidates verified with the cheap RANSAC.
  int candidates = 4;
  // RANSAC inliers (cheap RANSAC on the cheap description) at which the full
  // stage runs: at most 5% of the true pages the full stage accepts score
  // below 4 (see above). 0 always runs the full stage (calibration: the
  // cascade's score is still computed and traced).
  int min_inliers = 4;
};

struct RobustOptions {
  LocalStage local = LocalStage::kAuto;
  // Hash the trimmed page, a page box (a page inside a screenshot) and the
  // halves of wide pages too (page_normalizer.h NormalizedViews). A "box" hit
  // is accepted like the full and trimmed views' (min_quality, strong_radius),
  // and a strong one for a box that is not wide is conclusive for the whole
  // image (bench/RESULTS.md section 11, "Page views").
  // false with kNever is plain PDQ on the full page.
  bool normalized_views = true;
  // With normalized_views: the "body" views (fingerprint::BodyRects: a page
  // posted on a plain card, the post's header and footer cut off at blank
  // gaps), found again on a decode where each is at least min_box_short_side
  // across, and hashed at that size, at 1/sqrt(2) and at 1/2 of it (the
  // mirror only as the DCT's variant).
  bool body_views = true;
  // With normalized_views: the full, trimmed, box, body, unbanded, deskewed
  // and levelled views are also hashed blurred (fingerprint/blurred_pdq.h),
  // against the registered pages' blurred hashes (UnitRecord::pdq_blurred), in
  // the original orientation only. Pages of type at another scale than
  // registered (a small re-encode, a post) come within the radius this way.
  bool blurred_views = true;
  // With blurred_views: a body found again on the larger decode keeps its cut
  // at the decoded scale too, hashed blurred only. The two decodes can cut a
  // page differently (a column of vertical type at the page's edge is
  // furniture at one scale and content at the other), and a blurred hash is
  // near across the scales.
  bool decoded_scale_bodies = true;
  // With blurred_views: the page trimmed by the other readings of an edge band
  // at the content's side (fingerprint::TrimVariantRects: a list's bullets,
  // a listing's first column, peeled or not depending on a gap of a few
  // pixels at the scale of the decode), hashed blurred only, where they
  // differ from the trimmed view. Registration trims each page once, at its
  // own decode's scale.
  bool trim_variants = true;
  // A "box" view whose short side is below this (pixels at the decoded scale)
  // is hashed from a re-decode of the image at up to 4x that scale, where its
  // short side reaches this (PDQ loses typeset pages below ~250 px). An
  // "unbanded" view that small (a drawing trimmed out of its paper) is hashed
  // from such a re-decode too, its strip found, filled and trimmed again
  // there, besides the view at the decoded scale.
  int min_box_short_side = 256;
  // A PDQ hit at or below this distance (bits) with quality >= min_quality is
  // conclusive; hits between it and MatchOptions::radius are candidates that the
  // local stage verifies when it runs (and are reported as "pdq" if it cannot).
  int strong_radius = 24;
  // A PDQ hit of a half of a wide page ("left"/"right" view) is reported
  // without geometric verification only when the lower of the two qualities
  // (the half's and the registered page's) is at least this; below it, the
  // hit is a candidate that the local stage must verify (it runs for it even
  // when `local` is kAuto and the hit is within strong_radius). Halves are
  // artificial crops: the half of a screenshot or a padded page is often two
  // flat regions (page on one side, dark viewer on the other), and on real
  // images every unrelated pair within 31 bits was such a half (quality 100)
  // against a two-tone registered page (a flag, quality 55), at 14-22 bits.
  // Full and trimmed views need MatchOptions::min_quality on both sides: no
  // unrelated pair of theirs came within 64 bits at any quality >= 50
  // (bench/RESULTS.md section 5).
  int min_unverified_half_quality = 70;
  // A PDQ hit against a registered page with fewer stored local keypoints
  // than this (flat bands, a blank template: a flag, a plain icon) is reported
  // without geometric verification only within low_detail_radius bits. Many
  // unrelated images share such a page's 64x64 luminance: over 2,838
  // unrelated real images, Peru and Hungary matched Austria's flag at 28 and
  // 30 bits and a crop of Nevada's Spain's plain flag at 16, all quality 100
  // (bench/RESULTS.md section 11, "False-match sweep"); those flags store 7
  // and 15 keypoints, drawings and pages 80-509. Pages the local index does
  // not hold are exempt.
  int min_unverified_keypoints = 50;
  int low_detail_radius = 8;
  // Short side (pixels) the page is decoded at for local features.
  int local_min_short_side = 600;
  // The gate (index/inverted_file.h): registered pages that the inverted file
  // scores at least min_gate_score, at most max_local_candidates of them, are
  // verified geometrically from their quantised keypoints (with every PDQ hit
  // within the radius). The cut-off comes from the measured gate scores of
  // true and unrelated pages (bench/RESULTS.md section 11).
  int max_local_candidates = 12;
  float min_gate_score = 0.0f;
  // LocalGateOptions (inverted_file.h): leaf words per query keypoint the
  // gate reads and stop words, from bench/e2e/local_scale.cc (one word ranks
  // as well as two at 100k pages for half the postings; stop words cost
  // true pages; bench/RESULTS.md section 11).
  int gate_assignment = 1;
  double max_word_fraction = 0.0;
  int multiple_assignment = 2;  // leaf words per query keypoint quantised
  // Top-level words per query keypoint for verification (MatchQuantised).
  int top_assignment = 2;
  // Each candidate is first verified with a tenth of verify.ransac_iterations;
  // the full RANSAC runs when that finds at least this many inliers (and
  // does not accept already). A copy's consensus is usually found early; an
  // unrelated page stops there.
  int escalate_inliers = 8;
  // After a local match, verify the rejected candidates once more on their
  // correspondences outside the accepted matches' regions, with the full
  // RANSAC (a spread's second page in the first's style; see RunLocalStage).
  bool verify_beside_accepted = true;
  // A small drawing, blob or a few lines of type on a large blank page: a
  // copy's inliers cover little of the registered *page* (coverage 5-10%,
  // overlap coverage ~10% with 50-400 inliers on real images) and fail the
  // coverage checks measured against blank paper. When a candidate fails only
  // coverage, overlap coverage or inlier spread with at least this many
  // inliers, and the registered page's keypoints lie within half of its area,
  // it is verified again in the frame of its content (the keypoints' bounding
  // box plus 2% of the long side), with every threshold of `verify`
  // unchanged. Unrelated candidates reach at most 23 inliers in the local
  // stage and 41 with raw descriptors (bench/RESULTS.md sections 5 and 11,
  // "Sparse and low-contrast pages"). 0 disables it.
  int content_frame_min_inliers = 40;
  // The photometric check (fingerprint/page_thumbnail.h): a candidate that
  // still fails only coverage, overlap coverage or inlier spread, with at
  // least appearance_min_inliers inliers, is accepted when the query warped
  // onto the registered page by the verified transform correlates (ZNCC) with
  // the page's stored thumbnail at least min_appearance_correlation, its
  // residual in every cell of a 4x4 grid at most max_appearance_worst_cell
  // (Appearance::worst_cell), over at least min_appearance_compared of the
  // thumbnail's pixels, with the thumbnail's compared pixels' standard
  // deviation at least min_appearance_contrast levels of 0..15. A copy looks
  // like its page everywhere it shows it; a chance consensus of a few shared
  // motifs does not, nor does a drawing that shares most of another's artwork
  // (a face with another mouth: correlation 0.96, worst cell 0.91). Pages
  // registered without a thumbnail (blob version 1) never are. Measured on
  // real images (bench/RESULTS.md section 11, "Appearance"): candidates
  // eligible here, true pairs correlation >= 0.962, worst cell <= 0.51;
  // unrelated ones (2,838 queries of the false-match sweep) worst cell
  // >= 0.78. The floor is the verifier's own (verify.min_inliers, 13): of
  // the sweep's unrelated candidates with 10-19 inliers eligible here (176),
  // only a recoloured copy of a registered drawing passes (fifteenth
  // session; 20 before). 0: off.
  int appearance_min_inliers = 13;
  // The colour check (fingerprint/colour_signature.h): a match, by PDQ or by
  // the local stage, is dropped when the part of the scanned page it explains
  // (RobustHit::query_region) and the registered page both have at least
  // colour_min_chromatic of their pixels in colour and their colour
  // disagreement exceeds colour_max_disagreement: more than that share of
  // each side's colour lies in hues the other lacks (a drawing recoloured,
  // not a copy), unless the scanned region has a tinted paper
  // (fingerprint::BalancedOnPaper: a colour cast, a yellowed scan) and,
  // white-balanced on it, agrees (its disagreement is then the one
  // reported). Greyscale pages on either side, and pages registered
  // without a signature (blobs before version 3), are not checked. The
  // scanned page is decoded in colour only for a match whose registered page
  // has colour. Measured on real images and colour edits (bench/RESULTS.md
  // section 11, "Colour"). false: off.
  bool colour_check = true;
  double colour_min_chromatic = 0.02;
  double colour_max_disagreement = 0.5;
  double min_appearance_correlation = 0.95;
  double max_appearance_worst_cell = 0.6;
  double min_appearance_compared = 0.3;
  double min_appearance_contrast = 0.25;
  fingerprint::QuantisedMatchOptions quantised_match;
  // A landscape query (width >= wide_query_aspect x height) usually shows a
  // page at its full height: a 16:9 pad, a spread, a screenshot. Besides the
  // `features` extraction at working_long_side, it is also described at the
  // size whose height is features.working_long_side (long side at most
  // wide_query_max_long_side, never above the decoded width), where such a
  // page is at its registered scale, with wide_query_keypoints keypoints.
  // Such a query is decoded with its short side at least
  // wide_query_min_short_side (not local_min_short_side; 0: no different):
  // a 1800x1280 spread decoded at 900x640 showed its pages at 80% of their
  // registered scale, and at 120 registered pages of one font none of 20 CJK
  // spread pages was found (bench/RESULTS.md section 11, sixth session).
  // Both sets lie in the query's normalised frame and are matched as one.
  double wide_query_aspect = 1.15;
  int wide_query_max_long_side = 1920;
  int wide_query_keypoints = 1000;
  int wide_query_min_short_side = 800;  // features.working_long_side
  // A page box (the "box" view: a page inside a screenshot or reader window;
  // else a portrait "trimmed" view of a landscape image: a page padded with
  // bars to 16:9) whose long side is at
  // most this fraction of the image's is also described on its own, at
  // features.working_long_side (from a re-decode at up to 4x where the local
  // decode is smaller), with features.max_keypoints, and its keypoints are
  // added in the query's normalised frame. Such a page is shown at 40-60% of
  // the image's long side, where a typeset or CJK page's glyph keypoints are
  // lost at the whole query's scale. Above this fraction the extra
  // description gains too little scale to pay for itself. 0 turns it off.
  double box_query_max_fraction = 0.75;
  // The second chance for a page pasted on a larger canvas (white margins): when
  // the local stage accepts nothing, and the query's trimmed view padded by
  // content_query_pad of its long side on every side has a long side at most
  // this fraction of the image's, that padded content alone is described at
  // features.working_long_side (from a re-decode at up to 4x where the local
  // decode is smaller) and gated and verified afresh, every threshold as in
  // the first pass. The page at 10/12 of the image was described at 83% of
  // its registered scale, and among many registered pages of one font (CJK
  // text) other pages won the gate and the verification: 11 of 20 found on
  // the false-match sweep (bench/RESULTS.md section 11, "Second chance").
  // The first pass's outcome stands whenever it accepted anything, and a
  // query whose page box was described (box_query_max_fraction) gets no
  // second chance. Only unmatched pages with margins pay, one more
  // description, gate and verification: +22-69% CPU on unrelated real
  // images scanned page by page (typeset pages, whose text block is ~66% of
  // the page, pay most). 0 turns it off.
  double content_query_max_fraction = 0.9;
  // The padding keeps the content's edge keypoints (ORB ignores a border of
  // ~31 px) and stands for a registered page's own margins: a page with ~6%
  // margins is described at its registered scale.
  double content_query_pad = 0.06;
  // Zoomed-out looks for a cropped page. The local stage describes a query at
  // features.working_long_side, so a page cropped by c per side is described
  // at 1 / (1 - 2c) of its registered scale (1.25 for 10% per side or 20%
  // from a corner). ORB keeps a page's strongest corners per pyramid level,
  // and on text (typeset or CJK glyphs: thousands of corners of nearly equal
  // response) the kept set changes with the scale: among many registered
  // pages of one font, other pages won the gate (sweep: 8 of 20 typeset and
  // 15 of 20 CJK pages cropped 10% per side found; a 15% crop 9 of 40, a 20%
  // crop 0 of 40). When nothing was accepted, the whole query is described
  // again at each of these fractions of working_long_side in turn, gated and
  // verified as in the first pass (every threshold of `verify` unchanged),
  // until one accepts: 0.85 finds crops of 5-15% per side, 0.7 15-20%, 0.6
  // 20-25% (bench/RESULTS.md section 11, "Zoomed-out looks"). Each look that
  // runs costs one more description at that fraction of the pixels (p50
  // ~7 ms at 0.85), a gate and a verification, so Match's `crop_zoom` can
  // choose one: under volume sampling (pipeline::ScanOptions::local_sample)
  // a page tries the look that found a match in its volume, else one in turn
  // (all three on every unrelated page of a volume with evidence cost +115%
  // CPU). Mirrors are not described again. Empty turns it off.
  //
  // A zoom above 1 is an enlarged look, for a page shown small inside a
  // larger image with no frame to find it by (a white page in a white
  // social-media post or a phone's light reader): the query at up to that
  // many times features.working_long_side, as far as its pixels reach (a
  // re-decode at full size where needed; skipped under
  // enlarged_look_min_zoom), with keypoints in proportion to the area. The
  // first pass saw such a page at half its registered scale or less, and a
  // page of type shares few keypoints across that (real-image calibration:
  // a page in a post 38% found, 86% described at its own scale;
  // bench/RESULTS.md section 11, "Screenshots no threshold was chosen on").
  std::vector<double> crop_zooms = {0.85, 0.7, 0.6, 1.6};
  double enlarged_look_min_zoom = 1.25;
  // Each look is one more test of the query against the catalogue, so a
  // look's match must also have its inliers in at least this many cells of
  // the 4x4 grid over the overlap, or at least this many inliers. Measured
  // (bench/RESULTS.md section 11): true pages found by a look had >= 8 cells
  // or >= 32 inliers; the looks' matches of unrelated drawings on the
  // false-match sweep (icons on one shared template or of one shape) had 5-7
  // cells and 14-21 inliers.
  int crop_zoom_min_grid_cells = 8;
  int crop_zoom_min_inliers = 24;
  // A look's match under that bar is kept when the photometric check passes
  // it (min_appearance_correlation, max_appearance_worst_cell,
  // min_appearance_compared, min_appearance_contrast; the page's thumbnail
  // compared through the verified transform, whatever the inliers): the bar
  // stops chance consensus of a few shared motifs, which does not look like
  // the registered page where it shows it. Measured on real images
  // (bench/RESULTS.md section 11, fifteenth session): true pages dropped by
  // the bar correlate 0.98-0.997 with worst cell 0.10-0.32.
  bool crop_zoom_appearance = true;
  // One more look after the crop zooms, at the full working size with ORB's
  // FAST threshold fixed at this value (0: none). A faint page (a pale
  // drawing, fog over water) is registered at the adaptive threshold's
  // lowest step (features.min_fast_threshold), but a copy with a banner or
  // watermark band of strong type finds enough corners on the band at the
  // first step and keeps none of the page's faint ones; this look describes
  // the page as its registration did (2 of 4 watermark-band misses found on
  // the real-image calibration, bench/RESULTS.md section 11). It is the last
  // of the looks in turn (`crop_zoom` index crop_zooms.size()), and its match
  // needs inliers in crop_zoom_min_grid_cells cells whatever their number: on
  // the false-match sweep it matched an icon to another on the same template
  // with 32 inliers in 5 cells; its true matches had 9-11 cells.
  int low_contrast_look_threshold = 5;
  // One more look when nothing was accepted and a strip lies across the
  // page's paper (the strip the "unbanded" PDQ view found, so never with
  // normalized_views off; fingerprint::DetectOverlayBand: a watermark band
  // over a drawing or a few lines of type): the page with the strip filled from the
  // paper around it is described at the full working size, in the same frame,
  // gated and verified, and its match held to the looks' evidence bar
  // (crop_zoom_min_grid_cells or crop_zoom_min_inliers). The strip's type
  // took most of the first description's keypoints. Only pages with such a
  // strip pay (1-2% of unrelated real images, bench/RESULTS.md section 11,
  // "Watermark bands").
  bool unbanded_look = true;
  // The other page of a spread. The first pass describes a wide query as a
  // whole, and one page often takes nearly all its keypoints and its gate
  // score (a textured photo beside a plain one, a page beside a faint one):
  // the other is then not among the gate's candidates. When exactly one
  // registered page is accepted and the query beside the region it explains
  // is at least other_page_min_width of the query's height wide, that part
  // alone (full height, overlapping the explained region by
  // other_page_overlap of the query's width) is described as a page and
  // gated and verified afresh, every threshold as in the first pass; a match
  // there must not overlap the first (NonOverlapping). Only queries that
  // matched pay for it. 0 turns it off.
  double other_page_min_width = 0.5;
  double other_page_overlap = 0.02;
  // Twins: the same picture registered in more than one work (another
  // edition, a reprint, a magazine chapter and its volume). A hit for
  // registered page A also reports, for each other work, that work's page B
  // the scanned page matches on its own evidence at the usual bar (a
  // reportable PDQ hit of the same page or half, or a local verification
  // accepted in the same pass for the same region) when A and B are the same
  // picture: their registered PDQ hashes within twin_radius bits, both of
  // quality >= MatchOptions::min_quality. A page PDQ finds conclusively for
  // A, with a twin B it has no reportable hit for, runs the local stage (in
  // kAuto) so that B can be verified. Within one work a page still
  // matches one registered page. Measured on 2,440 distinct real pictures
  // (3.0 million pairs, bench/RESULTS.md section 11, "Twins"): pairs within 16
  // bits are copies or recolourings of one drawing, the first different
  // picture is 20 bits away; the same master re-encoded, retoned or blurred is
  // within 12 bits, resampled to 75% within 16 bits for 45% of pages (PDQ moves
  // with resampling on type and line art). 0 turns twins off.
  int twin_radius = 16;
  int max_twins = 8;  // per hit
  // The cheap first look (see LocalCascadeOptions); it is skipped when the
  // page has PDQ candidates or local_mirrored is set.
  LocalCascadeOptions cascade;
  // Diagnostics: when non-empty, every local stage appends one JSON line with
  // its gate candidates (score, matches) and their verification to this file
  // ($KAGAMI_LOCAL_TRACE when empty).
  std::string local_trace_path;
  // Also try the mirror image in the local stage for every page (a mirrored
  // *and* cropped copy). Without it the mirror is described only for a page
  // with a reflected PDQ candidate (variant kFlipY etc.), to verify it.
  bool local_mirrored = false;
  // Also describe the mirror image for a page whose PDQ quality is below
  // MatchOptions::min_quality: PDQ gives such a page no candidate, mirrored or
  // not, so only the local stage can find its mirror. (2 of 58 unrelated real
  // images, bench/RESULTS.md section 11, "Mirrors".)
  bool mirror_low_quality = true;
  // Query pages keep 500 keypoints (plus wide_query_keypoints for landscape
  // queries); registered pages keep kMaxQuantisedKeypoints (509, a 4 KB blob).
  fingerprint::LocalFeatureOptions features;
  fingerprint::LocalFeatureOptions registered_features = RegisteredFeatureOptions();
  // Acceptance at 13 inliers under the constraints of a real copy
  // (fingerprint::VerifyOptions). On generated pages unrelated same-style
  // pairs reach at most 10 inliers (bench/e2e/local_calibration.cc); on real
  // images unrelated pairs reach up to 41 inliers but never the coverage,
  // spread and transform a copy has (bench/e2e/real_calibration.cc,
  // bench/RESULTS.md section 5).
  fingerprint::VerifyOptions verify = DefaultVerifyOptions();
  // Positional stop words (boilerplate.h): a candidate the local stage
  // accepts is verified once more without its layout, the keypoints it
  // shares at the same place with its neighbours in registration order and
  // the query's other candidates (a running header, margins, a page-number
  // column), and is accepted only if the rest alone still gives a sane
  // consensus (full RANSAC) of verify.min_inliers inliers; coverage and
  // spread were measured on the whole match. Different pages of one layout
  // match on the layout alone: 4-8 inliers are left of their 13-31, 9 or
  // more of every true copy's on the false-match sweep (bench/RESULTS.md
  // section 11, "Positional stop words").
  BoilerplateOptions boilerplate;

  static fingerprint::LocalFeatureOptions RegisteredFeatureOptions() {
    fingerprint::LocalFeatureOptions o;
    o.max_keypoints = 1000;
    return o;
  }
  static fingerprint::VerifyOptions DefaultVerifyOptions() {
    fingerprint::VerifyOptions o;
    o.min_inliers = 13;
    return o;
  }
};

// Grayscale view of decoded pixels (CV_8UC1 as is; RGB/RGBA converted).
cv::Mat ToGray(const cv::Mat& pixels);

// The hashes registration stores beside a page's PDQ hash (UnitRecord's
// pdq_trimmed and pdq_blurred): PDQ of the trimmed view
// (fingerprint::TrimUniformBorders; none when trimming removes nothing or
// leaves a side under 16 px) and fingerprint::BlurredPdq of the trimmed view,
// else of the page. `kagami hash --stored` prints them. Thread-safe (no state).
struct RegisteredHashes {
  std::optional<fingerprint::PdqHash> trimmed;
  fingerprint::PdqHash blurred;
};
RegisteredHashes HashForRegistration(const cv::Mat& pixels, fingerprint::PdqHasher& hasher);

// What registration stores beside a page's PDQ hash: the hashes of
// HashForRegistration and its local features. Computed in the pipeline's
// parallel stage.
struct RegisteredPageExtras {
  std::optional<fingerprint::PdqHash> trimmed;
  std::optional<fingerprint::PdqHash> blurred;
  std::vector<uint8_t> local_features;  // LocalFeatures::Serialize(), empty if none
  Status local_status;                  // why there are no local features, if so
  // The page's colour signature on its own (RegisteredColour), for a page
  // read again for it only (local_features carries it otherwise).
  std::optional<fingerprint::ColourSignature> colour;
};

// `with_local` false: the hashes only (a registered page read again for the
// hashes it lacks; local_features empty, local_status ok). Thread-safe (no
// state).
RegisteredPageExtras AnalyzeForRegistration(const cv::Mat& pixels,
                                            const ingest::EncodedPage& encoded,
                                            const ingest::IngestLimits& limits,
                                            fingerprint::PdqHasher& hasher,
                                            const RobustOptions& options, bool with_local = true);

// The colour signature registration stores for a page (`pixels` and
// `encoded` as the extractor gives them; decoded again in colour where
// `pixels` are grey), for a registered page read again for it
// (Catalog::AddMissingColour). Not measured when the colour decode fails.
// Thread-safe.
fingerprint::ColourSignature RegisteredColour(const cv::Mat& pixels,
                                              const ingest::EncodedPage& encoded,
                                              const ingest::IngestLimits& limits);

// One registered page matched by a scanned page.
struct RobustHit {
  int64_t unit_id = 0;
  std::string method;  // "pdq", "local" or "both"
  // The scanned page's view that matched: full, trimmed, box, left, right. A
  // "local" hit's is full, or trimmed when the second chance found it
  // (RobustOptions::content_query_max_fraction).
  std::string view;
  int distance = -1;  // PDQ bits, -1 when only the local stage matched
  // The bits are between blurred hashes (fingerprint/blurred_pdq.h): the
  // view's and the registered page's UnitRecord::pdq_blurred.
  bool blurred = false;
  fingerprint::Dihedral variant = fingerprint::kOriginal;
  int view_quality = -1;  // PDQ quality of the matched view, -1 when PDQ did not match
  // PDQ quality of the registered hash `distance` is to (the page's, its
  // trimmed view's or its blurred hash; at least kMinIndexQuality), likewise
  int ref_quality = -1;
  // Local keypoints stored for the registered page (-1: unknown, e.g. no
  // local index); see RobustOptions::min_unverified_keypoints.
  int ref_keypoints = -1;
  int inliers = 0;  // geometric verification, 0 when not verified
  double coverage = 0;
  bool mirrored = false;
  // Every measurement of the geometric verification (inliers > 0 only): the
  // evidence of why the local stage accepted the match.
  fingerprint::Verification verification;
  // The local stage measured coverage against the registered page's content
  // box, not the whole page (RobustOptions::content_frame_min_inliers).
  bool content_frame = false;
  // Positional stop words (RobustOptions::boilerplate): the registered page's
  // keypoints marked as layout shared with its siblings, and the inliers of
  // the verification without them (-1: not checked, e.g. a PDQ-only hit).
  int boilerplate_keypoints = -1;
  int distinct_inliers = -1;
  cv::Matx33d homography = cv::Matx33d::eye();  // scanned -> registered, normalised units
  // The part of the scanned page this hit explains, in its normalised frame
  // (long side 1): the matched view's rectangle for PDQ, the registered page as
  // placed by the homography for the local stage.
  cv::Rect2d query_region;
  // A twin (RobustOptions::twin_radius) carries the unit it twins and the
  // bits between the two registered pages' PDQ hashes; 0 and -1 otherwise.
  int64_t twin_of = 0;
  int twin_bits = -1;
  // The colour check's measurement (RobustOptions::colour_check): the
  // disagreement of the query region's colours with the registered page's,
  // -1 when not measured (off, or either side greyscale or without a stored
  // signature).
  double colour_disagreement = -1;
  // This hit's twins in other works, each with its own evidence, best first.
  std::vector<RobustHit> twins;
};

// The outcome of matching one scanned page, best first: one hit, or two when
// they explain non-overlapping regions of it (fingerprint::RegionsOverlap; the
// halves of a spread). A weaker hit overlapping a stronger one is dropped,
// never reported as an alternative, unless it is the same picture registered
// in another work (RobustHit::twins).
// What the global stage learnt that the local stage uses.
struct LocalHints {
  bool low_quality = false;  // PDQ quality below MatchOptions::min_quality
  // The page box view (normalised frame of the query), when one was found.
  std::optional<cv::Rect2d> page_box;
  // The trimmed view (normalised frame of the query): the content inside
  // uniform margins, when there are any (RobustOptions::content_query_*).
  std::optional<cv::Rect2d> content;
  // The rows of a strip across the page's paper (the "unbanded" view's
  // fingerprint::View::strip_rows), as fractions of the query's height
  // (RobustOptions::unbanded_look).
  std::optional<std::pair<double, double>> strip;
};

// A page whose local stage the caller deferred (RobustMatcher::Match with
// `may_defer`): what RobustMatcher::RunDeferred needs besides the page's
// pixels, which the caller decodes again (the same decode gives the same
// pixels). Holds a copy of the encoded page: `bytes()` is what it costs.
struct DeferredLocal {
  ingest::EncodedPage encoded;  // bytes, or the rendered pixels of a PDF page
  LocalHints hints;
  size_t bytes() const { return HeldBytes(encoded); }

  // What holding a copy of `page` costs: its encoded bytes or rendered pixels.
  static size_t HeldBytes(const ingest::EncodedPage& page) {
    return page.bytes.size() + page.rendered.total() * page.rendered.elemSize();
  }
};

struct PageOutcome {
  std::vector<RobustHit> hits;
  bool local_ran = false;
  // Set when the local stage would have run and the caller let it be
  // deferred: the page had no PDQ candidate at all (hits is empty).
  std::shared_ptr<const DeferredLocal> deferred;
  // The cascade (LocalCascadeOptions): whether it ran, its score (the most
  // cheap-RANSAC inliers of its candidates; -1 when it did not run) and
  // whether it stopped the local stage before the full description.
  bool cascade_ran = false;
  int cascade_inliers = -1;
  bool cascade_stopped = false;
  Status local_status;  // non-ok if the local stage failed for this page
  Status status;        // non-ok if the page could not be matched at all (index failure)
};

// Matches scanned pages against a store with PDQ on normalised views and, where
// PDQ is inconclusive, local features with geometric verification.
// Match() is thread-safe: the PDQ index is searched concurrently, the catalog
// (for registered features) is read under a mutex, and the local index is
// built once, on first use.
class RobustMatcher {
 public:
  RobustMatcher(Store& store, const MatchOptions& match, const RobustOptions& options,
                const ingest::IngestLimits& limits);
  ~RobustMatcher();

  // With `may_defer`, a page that has no PDQ candidate at all (no hit within
  // the radius on any view) does not run the local stage: the outcome carries
  // `deferred` instead, for RunDeferred if the caller later finds reason to.
  // (Volume-level evidence: most pages of a crawl match nothing, and the local
  // stage costs several times the PDQ stage; pipeline/scanner.h.)
  //
  // `crop_zoom`: which of the zoomed-out looks (RobustOptions::crop_zooms,
  // then low_contrast_look_threshold's) the local stage may try,
  // kEveryCropZoom for all of them in turn, kNoCropZoom for none, else only
  // look crop_zoom % count (pipeline/scanner.cc chooses per volume).
  static constexpr int kEveryCropZoom = -1;
  static constexpr int kNoCropZoom = -2;  // no zoomed-out look
  PageOutcome Match(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                    fingerprint::PdqHasher& hasher, const fingerprint::PageFingerprint& page,
                    bool may_defer = false, int crop_zoom = kEveryCropZoom);

  // Runs the local stage Match deferred, on `pixels`: the page decoded as for
  // Match, with `crop_zoom` as Match's. Its outcome is what Match without
  // `may_defer` would have given.
  // Thread-safe like Match.
  PageOutcome RunDeferred(const cv::Mat& pixels, const DeferredLocal& deferred,
                          int crop_zoom = kEveryCropZoom);

  // Serialises the caller's other catalog use with Match()'s.
  std::mutex& catalog_mutex() { return catalog_mutex_; }

 private:
  Status EnsureLocalIndex();
  // Milliseconds spent gating and verifying, summed over passes.
  struct LocalTimes {
    double gate = 0;
    double verify = 0;
  };
  // Gates `query` (and `mirrored`, when not null) on the inverted file and
  // verifies the candidates it lets through and every PDQ hit; returns the
  // accepted hits, best first, at most two non-overlapping. Appends the
  // candidates' trace entries (JSON objects, comma-separated) to `trace`
  // when tracing.
  // `query_gray`: the pixels `query` was described from (its normalised
  // frame's long side), for the photometric check. `look`: a look held to the
  // looks' evidence bar; its accepted matches under the bar's grid cells get
  // the photometric check measured (RobustOptions::crop_zoom_appearance).
  std::vector<RobustHit> GateAndVerify(const fingerprint::LocalFeatures& query,
                                       const fingerprint::LocalFeatures* mirrored,
                                       const cv::Mat& query_gray,
                                       const std::vector<RobustHit>& pdq_hits, LocalTimes& times,
                                       std::string& trace, bool look = false);
  // The registered page's thumbnail from its catalog blob (empty when it has
  // none or the catalog cannot read it).
  fingerprint::PageThumbnail ThumbnailOf(int64_t unit_id);
  // The registered page's colour signature from its catalog blob (not
  // measured when it has none or the catalog cannot read it).
  fingerprint::ColourSignature ColourOf(int64_t unit_id);
  // RobustOptions::colour_check over `hits` and their twins: drops those
  // coloured otherwise than their registered page, records the measurement
  // on the rest. `pixels`/`encoded`: the scanned page, decoded again in
  // colour (once) only when a registered page has colour.
  void CheckColour(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                   std::vector<RobustHit>& hits);
  void RunLocalStage(const cv::Mat& pixels, const ingest::EncodedPage& encoded,
                     const std::vector<RobustHit>& pdq_hits, const LocalHints& hints, int crop_zoom,
                     PageOutcome& outcome);
  // Appends one JSON line to options_.local_trace_path (when set).
  void WriteTrace(const ingest::EncodedPage& encoded, int keypoints, double ms_decode,
                  double ms_extract, double ms_gate, double ms_verify,
                  const std::string& candidates, const std::string& cascade);
  // Bits between `hash` and the nearest of the unit's indexed hashes of its
  // kind (blurred: UnitRecord::pdq_blurred; else pdq and pdq_trimmed; each
  // only at quality >= Store::kMinIndexQuality, as the index holds them), and
  // that hash's quality; {257, -1} when it has none. `cache` holds the units'
  // refs for one page.
  struct RegisteredDistance {
    int bits = 257;
    int quality = -1;
  };
  RegisteredDistance SameKindDistance(int64_t unit_id, const fingerprint::Hash256& hash,
                                      bool blurred,
                                      std::map<int64_t, std::optional<UnitRef>>& cache);
  // Keypoints the local index stores for the unit; -1 when unknown.
  int RegisteredKeypoints(int64_t unit_id);
  // Whether a PDQ hit may be reported without geometric verification.
  bool ReportableUnverified(const RobustHit& hit) const;
  // Whether a registered page of `reported` (units this page has reportable
  // PDQ hits for) is the same picture as a page of another work
  // (RobustOptions::twin_radius) that is not among them: one range search of
  // their registered hashes. False when twins are off or on any read error.
  bool HasUnreportedTwin(const std::set<int64_t>& reported);
  // Fills the twins of each of `kept` (RobustOptions::twin_radius) from
  // `pool` (best first, `kept` among them): hits for other units for which
  // `same_region(kept hit, pool hit)` holds.
  void AttachTwins(std::vector<RobustHit>& kept, const std::vector<RobustHit>& pool,
                   const std::function<bool(const RobustHit&, const RobustHit&)>& same_region);

  Store& store_;
  MatchOptions match_;
  RobustOptions options_;
  ingest::IngestLimits limits_;
  std::mutex catalog_mutex_;  // guards store_.catalog() and store_.LocalIndex()
  std::once_flag local_once_;
  Status local_index_status_;
  const InvertedFile* local_index_ = nullptr;  // owned by store_
  std::mutex trace_mutex_;
};

}  // namespace kagami::index
