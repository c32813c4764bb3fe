#pragma once

#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kagami::fingerprint {

// Geometric normalisation of a page before global hashing (PDQ), so that the
// commonest pirate edits (different margins, letterboxing to a site's aspect
// ratio, two pages merged into one spread) do not change the hashed content.
// Registration hashes the trimmed page as well as the full one; a query hashes
// every view from NormalizedViews().
//
// All functions take CV_8UC1 (asserted), any size >= 1x1, and are thread-safe
// (no shared state).

// Tunables, exposed for tests and calibration; the defaults are what Kagami uses.
struct TrimOptions {
  // A pixel is "ink" when it differs from the side's background level by more
  // than this (JPEG q30 noise on flat paper stays well below 30).
  int tolerance = 48;
  // A row/column is blank when at most this fraction of it (and at least 3
  // pixels) is ink: specks, dust and a crossing thin scanner line are blank.
  double max_ink_fraction = 0.004;
  // Furniture skipped while trimming: a non-blank band at most this fraction of
  // the page's extent (page numbers, running heads, thin scanner lines along the
  // edge), starting in the outer 10% of the extent and followed by a blank gap
  // of at least `min_gap_fraction` (and 3 px), is trimmed; one such band per
  // side, so that lines of text are never peeled one after another.
  double max_furniture_fraction = 0.025;
  double min_gap_fraction = 0.005;
  // Margins are trimmed in rounds: first any uniform colour (letterbox bars, or
  // paper), then only bright layers (gray >= 160: the page's own paper inside
  // dark bars), so that a dark frame around the content is never peeled off.
  // A margin thinner than max(4 px, 1% of the extent) is kept.
  int max_rounds = 3;
  // Rounds after the first start where the previous one stopped on ink: there
  // a band that starts on the first line is a list's bullets or a listing's
  // first column as often as the running head of a page inside a margin.
  // Whether it is furniture then turns on a gap of a few pixels, and so on the
  // scale (a bullet's gap to its text is 3 px at one decode and 2 at the
  // next). The defaults peel it when the gap is wide enough; TrimVariantRects
  // reads it both ways.
  // With edge_is_content, such a band is content: never peeled.
  bool edge_is_content = false;
  // The smallest gap (pixels) after furniture in a later round; the first
  // round's is always 3.
  int later_gap_floor = 3;
};

// The trims of `gray` by the two readings of a later round's edge band
// (TrimOptions::edge_is_content, and later_gap_floor 1), each where it
// differs from `trimmed` (TrimUniformBorders(gray, options)), from the whole
// image and from the other, and is at least 16 px each way. Registration
// trims a page at the scale its file decodes to and a copy is trimmed at its
// own: on real typeset pages the two can part by a bullet column (1-2% of the
// width), tens of bits of the blurred hash (bench/RESULTS.md, "Trim
// variants"). None when `trimmed` is the whole image (no later round ran).
std::vector<cv::Rect> TrimVariantRects(const cv::Mat& gray, const cv::Rect& trimmed,
                                       const TrimOptions& options = {});

// The bounding rectangle of the page's content after removing near-uniform
// margins on each side: white or off-white paper, black or white letterbox bars,
// any uniform colour. A side whose outermost strip is not uniform is not
// trimmed. Never trims into content: trimming stops at the first non-blank band
// that is not furniture (see TrimOptions). Returns the full rect when there is
// nothing to trim, and never an empty rect (a blank page returns the full rect).
cv::Rect TrimUniformBorders(const cv::Mat& gray, const TrimOptions& options = {});

// For a wide image (width / height > kSpreadMinAspect), the column at which to
// split it into two pages, in order of preference:
//  1. a seam: a column in the middle 60% of the width across which the image
//     steps (a level change of at least SeamOptions::min_step) in at least
//     `min_row_fraction` of the rows, standing out from the columns around it
//     by `min_contrast` (two pages of different widths scaled to one height
//     and pasted edge to edge; photos and art without margins);
//  2. the centre of the widest blank vertical gutter in the middle 30% of the
//     width (the two pages' inner margins);
//  3. width / 2 (pages scanned edge to edge, nothing to tell the seam).
// Each side of a seam is at least SeamOptions::min_page_aspect x height wide.
// std::nullopt for images that are not wide. Run it on the trimmed image:
// padding makes pages look wide. Works on a copy at most 512 px long.
inline constexpr double kSpreadMinAspect = 1.2;
struct SeamOptions {
  int min_step = 14;               // gray levels across 4 px (after a 3x3 blur)
  double min_row_fraction = 0.55;  // rows that step at the seam
  double min_contrast = 0.35;      // over the mean of the columns 4-15 px away
  double min_page_aspect = 0.35;   // width / height of the narrower page
};
std::optional<int> DetectSpread(const cv::Mat& gray, const SeamOptions& options = {});

// A page shown inside a larger image: a reader's or browser's window (tool
// bars, a sidebar of thumbnails, a status bar) with the page on a flat viewer
// background, dark or light, centred or not.
//
// Method: on a copy at most `working_long_side` px long (3x3 blur), rows and
// columns across which the image steps by at least `min_step` gray levels (over 4 px)
// over long straight runs are candidate sides; every rectangle of candidate
// sides whose four sides step along at least `min_side_coverage` of their
// length, of plausible size and shape, and which has a flat exterior band
// (the viewer background: at most `max_band_ink` of its pixels further than
// `band_tolerance` from the band's median) outside both of two opposite
// sides, is a candidate; the largest candidate wins, untrimmed (the page with
// its own margins: trimming inside it depends on the scale and disagreed with
// the registered page's trimming on typeset pages). The image's own edges
// are sides too (a page fitted to a phone's width, edge to edge): such a box
// needs its flat bands beyond the other two sides, both of one level (within
// `band_tolerance`), so a page that fills the image, and a photo or page
// without such a framed region, give std::nullopt. Exterior bands must lie
// inside the image, and the rectangle must differ from the whole image by at
// least a band. Each side with a flat band beyond it is then placed at full
// resolution (the line within a working pixel whose pixels differ most from
// their neighbours', where the line outside is the band's level): PDQ of a
// page of type moves by ~10 bits for a 3 px shift.
// A box that is the image trimmed of its uniform margins (IoU >= 0.85 with
// TrimUniformBorders: a page on paper or letterbox bars) is not reported: the
// "trimmed" view is that page. Geometry only (no OCR of UI). A panel of a comic framed by wide
// gutters on two opposite sides can pass: it is one more view to hash, never a match by itself (the
// matcher's distance and quality rules still apply).
struct PageBoxOptions {
  int working_long_side = 384;
  int min_step = 10;  // gray levels across 4 px (after a 3x3 blur)
  double min_side_coverage = 0.75;
  // Size and shape of a page: each side at least this fraction of the image's
  // (and 32 px of the input), area at least min_area_fraction of the image and
  // at most max_area_fraction, width / height within [min_aspect, max_aspect].
  double min_side_fraction = 0.15;
  double min_area_fraction = 0.05;
  double max_area_fraction = 0.92;
  double min_aspect = 0.3;
  double max_aspect = 3.0;
  // Exterior bands: this fraction of the image's extent across the side (at
  // least 4 px), separated from the side by 2 px.
  double band_fraction = 0.03;
  int band_tolerance = 20;
  double max_band_ink = 0.06;
};
std::optional<cv::Rect> DetectPageBox(const cv::Mat& gray, const PageBoxOptions& options = {});

// A strip laid across the whole width of a page of little content on blank
// paper: a scan group's or a site's watermark band ("SCANS BY ...", a URL)
// over the paper around a drawing or a few lines of type. On such a page the
// strip moves the PDQ hash by far more than the radius, keeps the paper's
// margins from being trimmed, and takes the local features' strongest
// corners, while the page itself is untouched (bench/RESULTS.md section 11,
// "Watermark bands"). A strip over a photo or a full page leaves the local
// stage enough of the page and is not looked for.
//
// Method: on a copy at most `working_long_side` px long (3x3 blur), a row is
// an edge when the image steps between the rows 2 px above and below it by at
// least `min_step` gray levels, with one sign (darker below, or brighter
// below), in at least `min_column_fraction` of the columns. A strip is an
// edge of one sign followed by one of the other sign (the strip's own type
// may step across the width between them), `min_height_fraction` to
// `max_height_fraction` of the image's height apart, neither within 2% of the image's top or bottom
// edge, where the rows 3 px outside both edges are flat paper of one level and the rows 3 px inside
// flat at another (at least min_flat_fraction of each row within max_flat_deviation of its median;
// the two outside and the two inside levels within max_flat_deviation of each other; inside and
// outside at least min_step apart). Returns the input rows to replace (the strip and its soft
// edges), the strongest strip when there are several (its weaker edge's column count), or
// std::nullopt.
struct OverlayBandOptions {
  int working_long_side = 384;
  int min_step = 12;
  double min_column_fraction = 0.75;
  double min_height_fraction = 0.03;
  double max_height_fraction = 0.25;
  int max_flat_deviation = 6;  // gray levels
  double min_flat_fraction = 0.6;
};
std::optional<cv::Range> DetectOverlayBand(const cv::Mat& gray,
                                           const OverlayBandOptions& options = {});

// A copy of `gray` whose rows `band` are replaced, column by column, by the
// linear blend of the rows just above and just below it (the one row beside
// it at an image edge). `band` must lie inside the image (asserted).
cv::Mat FillOverlayBand(const cv::Mat& gray, cv::Range band);

// A page turned by a few degrees on a canvas of one level: a page scanned or
// photographed askew, or pasted rotated into a post. The turn moves the PDQ
// hash far beyond any radius (and the canvas's corners keep the margins from
// being trimmed), while turning it back restores the page's own frame.
//
// Method: on a copy at most `working_long_side` px long (3x3 blur), the four
// corner pixels must lie within `corner_tolerance` gray levels of each other
// (their mean is the canvas level); the page is every pixel further than
// `page_tolerance` from it; the minimum-area rectangle around those pixels
// (cv::minAreaRect) is the page when it is turned by `min_angle_deg` to
// `max_angle_deg` (either way), covers at least `min_area_fraction` of the
// image, and the page's pixels fill at least `min_fill` of it (a drawing or a
// column of type on paper of the canvas's level fills far less, and its
// rectangle is not a page's edge). Returns the rectangle in input pixels, with
// the angle in (-45, 45] degrees (OpenCV's convention: positive turns the
// rectangle clockwise on screen), or std::nullopt.
struct SkewOptions {
  int working_long_side = 384;
  int corner_tolerance = 12;
  int page_tolerance = 24;
  double min_angle_deg = 0.75;
  double max_angle_deg = 20.0;
  double min_area_fraction = 0.25;
  double min_fill = 0.8;
};
std::optional<cv::RotatedRect> DetectSkewedPage(const cv::Mat& gray,
                                                const SkewOptions& options = {});

// Lines or columns of type (or staves, panel borders) turned by a few degrees
// on paper of the canvas's level: a typeset page, a page of Japanese columns
// or a score scanned or pasted askew, whose paper shows no edge for
// DetectSkewedPage to follow. The turn moves its PDQ hash as far as a
// photo's; the angle is that of its lines.
//
// Method: projection profiles (W. Postl, "Detection of linear oblique
// structures and skew scan in digitized documents", ICPR 1986; J. J. Hull,
// "Document image skew detection: survey and annotated bibliography", 1998).
// On a copy at most `working_long_side` px long (3x3 blur), the four corner
// pixels within `corner_tolerance` gray levels of each other give the paper's
// level; ink is every pixel further than `ink_tolerance` from it, and must be
// `min_ink_fraction` to `max_ink_fraction` of the image. The ink is projected
// across lines turned by every `step_deg` in [-max_angle_deg, max_angle_deg]
// (at most `max_points` ink pixels, evenly sampled), each 1 px wide, and
// across columns turned as much (Japanese type runs in vertical columns); the
// profile's sum of squared counts is largest where lines or columns of type,
// staves or panel borders run along the projection. The direction whose best
// angle gains more over its level profile is kept. The best angle, refined
// to a tenth of the step within a step of it, levels the page when it is at
// least `min_angle_deg` from level (and at most `max_angle_deg`) and its
// score is at least `min_gain` times the level profile's (a drawing's or
// photo's best angle is mostly chance: its profile barely changes; a few,
// such as a screenshot's interface, gain as much as type, and their ink then
// leaves the frame LineSkew::frame requires, so no view is made).
struct LineSkewOptions {
  int working_long_side = 384;
  int corner_tolerance = 12;
  int ink_tolerance = 48;
  double min_ink_fraction = 0.002;
  double max_ink_fraction = 0.4;
  double min_angle_deg = 0.75;
  double max_angle_deg = 10.0;
  double step_deg = 1.0;
  int max_points = 4000;
  double min_gain = 1.5;
};

// What the measurement found: the best angle (OpenCV's convention, as
// DetectSkewedPage's: DeskewPage turns a rectangle of this angle upright),
// its score over the level profile's, and, only where the angle levels the
// page, the page's frame when the image is a canvas just large enough to
// hold a page turned by that angle (an editor's or a reader's turn), with
// all the ink inside it: centred on the image, in input pixels.
struct LineSkew {
  double angle_deg = 0;
  double gain = 0;
  std::optional<cv::RotatedRect> frame;
};

// The measurement where its angle levels the page, else std::nullopt.
std::optional<LineSkew> DetectSkewedLines(const cv::Mat& gray, const LineSkewOptions& options = {});

// The measurement whatever its angle and gain (for calibration and tests);
// std::nullopt when the corners are not one level or the ink is outside its
// fractions.
std::optional<LineSkew> MeasureLineSkew(const cv::Mat& gray, const LineSkewOptions& options = {});

// The page inside `page` (as DetectSkewedPage returns it) turned upright: an
// image of page.size (rounded, at least 1x1), sampled bilinearly, the canvas
// replicated where the rectangle leaves the input.
cv::Mat DeskewPage(const cv::Mat& gray, const cv::RotatedRect& page);

// One image to hash for a query page.
struct View {
  // CV_8UC1; shares memory with the input (a ROI), except "unbanded",
  // "deskewed" and "levelled" (copies).
  cv::Mat image;
  // "full", "trimmed", "body", "box", "left", "right", "deskewed",
  // "levelled" or "unbanded".
  std::string name;
  cv::Rect rect_in_original;  // where `image` lies in the input
  // "unbanded": the input rows DetectOverlayBand found and `image` has filled
  // (empty for the other views).
  cv::Range strip_rows = cv::Range(0, 0);
  // "deskewed", "levelled": the degrees the page was turned back by
  // (DetectSkewedPage's or DetectSkewedLines's angle; 0 for the other views).
  // rect_in_original is then the bounding box of the turned page (the whole
  // image for "levelled").
  double turned_deg = 0;
};

// Which of NormalizedViews' optional views are computed.
struct ViewOptions {
  bool bodies = true;  // the "body" views
};

// The views a query page should be hashed as: "full" (always, first),
// "trimmed" (when trimming removed anything), "body" (BodyRects: the trimmed
// content with a post's header or footer cut off; several, or none), "box"
// (when DetectPageBox finds a page inside the image), and for a wide trimmed
// image its two halves "left" and "right", each trimmed of its own margins
// (split by DetectSpread with a seam required over 90% of the rows: a
// screenshot's page edge is not a seam). Left/right are in image order; with
// right-to-left manga the "right" half is the earlier page. "deskewed": a page
// DetectSkewedPage finds turned on a canvas, turned upright by DeskewPage;
// where there is none, "levelled": lines DetectSkewedLines finds askew, the
// page's frame (LineSkew::frame: the image holds just the turned page) turned
// level by DeskewPage. "unbanded" (last) is the image with a band found by
// DetectOverlayBand filled by FillOverlayBand, then trimmed of its uniform
// margins (the band, spanning the width, had kept them).
std::vector<View> NormalizedViews(const cv::Mat& gray, const TrimOptions& options = {},
                                  const ViewOptions& which = {});

// A page posted on a plain card (a social-media post, a forum message): a
// header above it (avatar, name) and a caption or action bar below it, on
// the same background as the page's paper, so that neither a frame nor the
// trim finds the page. The trimmed content is cut at blank gaps near its top
// and bottom; each cut keeps a body of at least `min_body_fraction` of the
// trimmed height, is trimmed again (see side_margin_fraction), and is a
// "body" view, to meet the page's registered trimmed hash.
struct BodyOptions {
  // A gap is a run of blank rows (as TrimOptions counts ink, against the
  // margin's level) at least this fraction of the trimmed height (and 4 px):
  // wider than a typeset page's line spacing at the scales a post shows a
  // page at, narrower than the space a post's layout leaves around it.
  double min_gap_fraction = 0.015;
  // At most this many blocks are cut from each end, within this fraction of
  // the trimmed height from it (a caption and a row of buttons under a wide
  // picture posted small take over 30%).
  int max_cut_blocks = 2;
  double max_cut_fraction = 0.4;
  double min_body_fraction = 0.4;
  // Each body is trimmed (TrimUniformBorders, furniture rule included) from
  // its rows, across its ink's columns widened by this fraction of their
  // width on each side: a page's own side margins, so that the furniture rule
  // sees the extent it saw when the page was registered (a narrow column of
  // type at the page's edge is content there, under 2.5% of a whole post's
  // width).
  double side_margin_fraction = 0.1;
};

// The "body" rects (in `gray`'s coordinates) of the content inside `trimmed`
// (TrimUniformBorders' rect), at most (max_cut_blocks + 1)^2 - 1 of them,
// none equal to `trimmed`. Empty when `trimmed` has no uniform margin above or
// below it to take the background level from, or no gap qualifies.
std::vector<cv::Rect> BodyRects(const cv::Mat& gray, const cv::Rect& trimmed,
                                const TrimOptions& trim = {}, const BodyOptions& options = {});

}  // namespace kagami::fingerprint
