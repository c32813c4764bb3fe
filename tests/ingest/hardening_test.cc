// Inputs that used to lose pages or run unbounded (issue 6), and the AVIF/GIF
// decoders: each test fails on the behaviour before the fix.

#include <avif/avif.h>
#include <gif_lib.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ingest_test_util.h"
#include "kagami/ingest/image_decoder.h"
#include "kagami/ingest/page_source.h"
#include "kagami/ingest/volume.h"
#include "pdf_fixture.h"
#include "temp_dir.h"

namespace kagami::ingest {
namespace {

using ::kagami::testing::TempDir;
using ::kagami::testing::WriteFile;
using testing::ArchiveKind;
using testing::Bytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MemberNames;
using testing::ReadAllPages;

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Everything written to file descriptor 2 while `fn` runs.
template <typename Fn>
std::string CaptureStderr(Fn&& fn) {
  std::fflush(stderr);
  FILE* capture = std::tmpfile();
  int saved = ::dup(2);
  ::dup2(::fileno(capture), 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string text;
  std::rewind(capture);
  for (int c; (c = std::fgetc(capture)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(capture);
  return text;
}

// ------------------------------------------------------------------ EPUB

TEST(EpubHardeningTest, SpineReferencesDifferingOnlyInCaseReadThePageOnce) {
  constexpr char kContainer[] = R"(<container><rootfiles>
    <rootfile full-path="content.opf"/></rootfiles></container>)";
  constexpr char kPackage[] = R"(<package><manifest>
    <item id="a1" href="img/Page1.png" media-type="image/png"/>
    <item id="a2" href="img/page1.PNG" media-type="image/png"/>
    <item id="b" href="img/page2.png" media-type="image/png"/>
    <item id="c" href="img/page3.png" media-type="image/png"/>
  </manifest><spine>
    <itemref idref="a1"/><itemref idref="a2"/><itemref idref="b"/><itemref idref="c"/>
  </spine></package>)";
  TempDir dir;
  ASSERT_TRUE(testing::WriteArchive(dir / "book.epub", ArchiveKind::kZip,
                                    {{"mimetype", Text("application/epub+zip")},
                                     {"META-INF/container.xml", Text(kContainer)},
                                     {"content.opf", Text(kPackage)},
                                     {"img/page1.png", testing::PagePng("1")},
                                     {"img/page2.png", testing::PagePng("2")},
                                     {"img/page3.png", testing::PagePng("3")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "book.epub");
  ASSERT_EQ(pages.size(), 3u) << ::testing::PrintToString(MemberNames(pages));
  for (const EncodedPage& page : pages) EXPECT_TRUE(page.status.ok()) << page.status.ToString();
  EXPECT_EQ(pages[0].bytes, testing::PagePng("1"));
  EXPECT_EQ(pages[1].bytes, testing::PagePng("2"));
  EXPECT_EQ(pages[2].bytes, testing::PagePng("3"));
}

// ------------------------------------------------------------------ 7z

TEST(ArchiveHardeningTest, SkippingA7zMemberIsBoundedByUncompressedBytes) {
  TempDir dir;
  testing::Member big{"padding.bin", {}, false, 64ull << 20};  // 64 MiB of zeros: ~10 KiB packed
  ASSERT_TRUE(testing::WriteArchive(dir / "vol.7z", ArchiveKind::kSevenZip,
                                    {big, {"p1.png", testing::PagePng("1")}}));
  ASSERT_LT(std::filesystem::file_size(dir / "vol.7z"), 1u << 20);
  IngestLimits limits;
  limits.max_total_bytes = 16ull << 20;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "vol.7z", limits);
  ASSERT_FALSE(pages.empty());
  const Status& last = pages.back().status;
  EXPECT_EQ(last.code(), StatusCode::kResourceExhausted) << last.ToString();
  EXPECT_THAT(last.message(), HasSubstr("skipping"));
}

TEST(ArchiveHardeningTest, SmallNonPageMembersOf7zAreSkippedAndPagesRead) {
  TempDir dir;
  testing::Member notes{"notes.bin", {}, false, 1u << 20};
  ASSERT_TRUE(testing::WriteArchive(
      dir / "vol.7z", ArchiveKind::kSevenZip,
      {notes, {"p1.png", testing::PagePng("1")}, {"p2.png", testing::PagePng("2")}}));
  std::vector<EncodedPage> pages = ReadAllPages(dir / "vol.7z");
  EXPECT_THAT(MemberNames(pages), ElementsAre("p1.png", "p2.png"));
  for (const EncodedPage& page : pages) EXPECT_TRUE(page.status.ok()) << page.status.ToString();
}

// ------------------------------------------------------------------ PDF

std::string OnePagePdf(int pages) {
  std::string content = "0 0 0 rg 100 100 200 300 re f";
  std::vector<std::string> objects = {"<< /Type /Catalog /Pages 2 0 R >>"};
  std::string kids;
  for (int i = 0; i < pages; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Pages /Kids [ " + kids + "] /Count " + std::to_string(pages) +
                    " >>");
  for (int i = 0; i < pages; ++i) {
    objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " +
                      std::to_string(4 + 2 * i) + " 0 R /Resources << >> >>");
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                      "\nendstream");
  }
  return kagami::testing::AssemblePdf(objects);
}

TEST(PdfHardeningTest, RenderResolutionIsBoundedByMaxSide) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", OnePagePdf(1));
  IngestLimits limits;
  limits.pdf_render_dpi = 600;  // would be 5100x6600
  limits.pdf_max_side = 500;
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_EQ(pages.size(), 1u);
  ASSERT_TRUE(pages[0].status.ok()) << pages[0].status.ToString();
  EXPECT_LE(std::max(pages[0].rendered.cols, pages[0].rendered.rows), 500);
  EXPECT_GE(std::max(pages[0].rendered.cols, pages[0].rendered.rows), 490);
}

// Three pages; the middle one is heavy: a form XObject drawn 80 times, each
// drawing one drawn 80 times, each filling 80 small rectangles (512,000
// fills, many seconds of rendering), in a few kilobytes.
std::string PdfWithAHeavyMiddlePage() {
  std::string light = "0 0 0 rg 100 100 200 300 re f";
  auto stream = [](const std::string& dict, const std::string& content) {
    return "<< " + dict + " /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
           "\nendstream";
  };
  std::string rects, draw_a, draw_b;
  for (int i = 0; i < 80; ++i) {
    rects += std::to_string(i % 7 / 7.0) + " g " + std::to_string(i * 7 % 500) + " " +
             std::to_string(i * 13 % 700) + " 40 30 re f\n";
    draw_a += "/A Do\n";
    draw_b += "/B Do\n";
  }
  const std::string form = "/Type /XObject /Subtype /Form /BBox [0 0 612 792]";
  std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [ 3 0 R 5 0 R 7 0 R ] /Count 3 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
      stream("", light),
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R "
      "/Resources << /XObject << /C 11 0 R >> >> >>",
      stream("", "/C Do"),
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 8 0 R /Resources << >> >>",
      stream("", light),
      stream(form, rects),                                                  // 9: A
      stream(form + " /Resources << /XObject << /A 9 0 R >> >>", draw_a),   // 10: B
      stream(form + " /Resources << /XObject << /B 10 0 R >> >>", draw_b),  // 11: C
  };
  return kagami::testing::AssemblePdf(objects);
}

TEST(PdfHardeningTest, AHeavyPageIsStoppedAtTheDeadlineAndTheDocumentGoesOn) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", PdfWithAHeavyMiddlePage());
  IngestLimits limits;
  limits.pdf_page_deadline_s = 1.0;  // the light pages need milliseconds
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_TRUE(pages[0].status.ok()) << pages[0].status.ToString();
  EXPECT_FALSE(pages[0].rendered.empty());
  EXPECT_EQ(pages[1].status.code(), StatusCode::kResourceExhausted) << pages[1].status.ToString();
  EXPECT_THAT(pages[1].status.message(), HasSubstr("page-0002"));
  EXPECT_THAT(pages[1].status.message(), HasSubstr("deadline"));
  EXPECT_TRUE(pages[1].rendered.empty());
  EXPECT_TRUE(pages[2].status.ok()) << pages[2].status.ToString();
  EXPECT_FALSE(pages[2].rendered.empty());
}

TEST(PdfHardeningTest, EveryPageGetsItsOwnDeadline) {
  TempDir dir;
  WriteFile(dir / "doc.pdf", OnePagePdf(3));
  IngestLimits limits;
  limits.pdf_page_deadline_s = 0;  // every render is stopped at once
  std::vector<EncodedPage> pages = ReadAllPages(dir / "doc.pdf", limits);
  ASSERT_EQ(pages.size(), 3u);
  for (const EncodedPage& page : pages) {
    EXPECT_EQ(page.status.code(), StatusCode::kResourceExhausted) << page.status.ToString();
    EXPECT_THAT(page.status.message(), HasSubstr("deadline"));
  }
}

// ------------------------------------------------------------------ GIF

// An animated GIF whose frames are gray ramps (palette index v = gray v).
Bytes GrayGif(int width, int height, const std::vector<int>& frame_offsets, bool interlace) {
  struct Sink {
    static int Write(GifFileType* gif, const GifByteType* data, int n) {
      auto* out = static_cast<Bytes*>(gif->UserData);
      out->insert(out->end(), data, data + n);
      return n;
    }
  };
  Bytes out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, Sink::Write, &error);
  EXPECT_NE(gif, nullptr);
  EGifSetGifVersion(gif, true);
  GifColorType colors[256];
  for (int i = 0; i < 256; ++i)
    colors[i] = {static_cast<GifByteType>(i), static_cast<GifByteType>(i),
                 static_cast<GifByteType>(i)};
  ColorMapObject* map = GifMakeMapObject(256, colors);
  EGifPutScreenDesc(gif, width, height, 8, 0, map);
  std::vector<GifPixelType> row(width);
  for (int offset : frame_offsets) {
    EGifPutImageDesc(gif, 0, 0, width, height, interlace, nullptr);
    std::vector<int> order;
    if (interlace) {
      for (int y = 0; y < height; y += 8) order.push_back(y);
      for (int y = 4; y < height; y += 8) order.push_back(y);
      for (int y = 2; y < height; y += 4) order.push_back(y);
      for (int y = 1; y < height; y += 2) order.push_back(y);
    } else {
      for (int y = 0; y < height; ++y) order.push_back(y);
    }
    for (int y : order) {
      for (int x = 0; x < width; ++x)
        row[x] = static_cast<GifPixelType>((x + 3 * y + offset) & 255);
      EGifPutLine(gif, row.data(), width);
    }
  }
  EGifCloseFile(gif, &error);
  GifFreeMapObject(map);
  return out;
}

TEST(GifDecodeTest, AnimatedGifGivesItsFirstFrameExactly) {
  for (bool interlace : {false, true}) {
    Bytes gif = GrayGif(40, 30, {0, 100}, interlace);
    DecodeOptions exact;
    exact.mode = DecodeMode::kExact;
    Result<DecodedImage> decoded = DecodeImage(gif.data(), gif.size(), exact, IngestLimits{});
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_EQ(decoded->pixels.type(), CV_8UC3);
    ASSERT_EQ(decoded->pixels.cols, 40);
    ASSERT_EQ(decoded->pixels.rows, 30);
    int wrong = 0;
    for (int y = 0; y < 30; ++y) {
      for (int x = 0; x < 40; ++x) {
        cv::Vec3b p = decoded->pixels.at<cv::Vec3b>(y, x);
        int v = (x + 3 * y) & 255;
        wrong += p[0] != v || p[1] != v || p[2] != v;
      }
    }
    EXPECT_EQ(wrong, 0) << "interlace=" << interlace;
    DecodeOptions fast;
    Result<DecodedImage> gray = DecodeImage(gif.data(), gif.size(), fast, IngestLimits{});
    ASSERT_TRUE(gray.ok()) << gray.status().ToString();
    EXPECT_EQ(gray->pixels.type(), CV_8UC1);
  }
}

TEST(GifDecodeTest, ScreenOverThePixelLimitIsRefusedBeforeDecoding) {
  Bytes gif = GrayGif(40, 30, {0}, false);
  IngestLimits limits;
  limits.max_pixels = 1000;
  Result<DecodedImage> decoded = DecodeImage(gif.data(), gif.size(), DecodeOptions{}, limits);
  EXPECT_EQ(decoded.status().code(), StatusCode::kResourceExhausted);
}

TEST(GifDecodeTest, TruncatedGifIsCorruptAndSilent) {
  Bytes gif = GrayGif(40, 30, {0}, false);
  gif.resize(gif.size() / 2);
  Result<DecodedImage> decoded = Status::Ok();
  std::string err = CaptureStderr(
      [&] { decoded = DecodeImage(gif.data(), gif.size(), DecodeOptions{}, IngestLimits{}); });
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt) << decoded.status().ToString();
  EXPECT_EQ(err, "");
}

// ------------------------------------------------------------------ AVIF

struct EncoderDestroy {
  void operator()(avifEncoder* e) const { avifEncoderDestroy(e); }
};
struct ImageDestroy {
  void operator()(avifImage* i) const { avifImageDestroy(i); }
};

// Encodes RGB frames (lossless-ish, quantizer 0) as AVIF; a sequence when
// there are several. Empty when no AV1 encoder is available.
Bytes EncodeAvif(const std::vector<cv::Mat>& frames) {
  std::unique_ptr<avifEncoder, EncoderDestroy> encoder(avifEncoderCreate());
  encoder->maxThreads = 1;
  encoder->speed = 10;
  encoder->minQuantizer = 0;
  encoder->maxQuantizer = 0;
  for (const cv::Mat& frame : frames) {
    std::unique_ptr<avifImage, ImageDestroy> image(
        avifImageCreate(frame.cols, frame.rows, 8, AVIF_PIXEL_FORMAT_YUV444));
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, image.get());
    rgb.format = AVIF_RGB_FORMAT_RGB;
    rgb.pixels = const_cast<uint8_t*>(frame.data);
    rgb.rowBytes = static_cast<uint32_t>(frame.step);
    if (avifImageRGBToYUV(image.get(), &rgb) != AVIF_RESULT_OK) return {};
    avifAddImageFlags flags =
        frames.size() == 1 ? AVIF_ADD_IMAGE_FLAG_SINGLE : AVIF_ADD_IMAGE_FLAG_NONE;
    if (avifEncoderAddImage(encoder.get(), image.get(), 1, flags) != AVIF_RESULT_OK) return {};
  }
  avifRWData out = AVIF_DATA_EMPTY;
  if (avifEncoderFinish(encoder.get(), &out) != AVIF_RESULT_OK) return {};
  Bytes bytes(out.data, out.data + out.size);
  avifRWDataFree(&out);
  return bytes;
}

double MeanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::Scalar mean = cv::mean(diff);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

TEST(AvifDecodeTest, StillAndAnimatedAvifDecodeToTheirFirstFrame) {
  cv::Mat first = testing::LabelledPage("first");
  cv::cvtColor(first, first, cv::COLOR_BGR2RGB);
  cv::Mat second = cv::Scalar(255, 255, 255) - first;
  for (const std::vector<cv::Mat>& frames :
       {std::vector<cv::Mat>{first}, std::vector<cv::Mat>{first, second}}) {
    Bytes avif = EncodeAvif(frames);
    ASSERT_FALSE(avif.empty()) << "libavif has no AV1 encoder here";
    std::string type;
    ASSERT_EQ(SniffMediaKind(avif.data(), avif.size(), &type), MediaKind::kImage);
    EXPECT_EQ(type, "image/avif");
    DecodeOptions exact;
    exact.mode = DecodeMode::kExact;
    Result<DecodedImage> decoded = DecodeImage(avif.data(), avif.size(), exact, IngestLimits{});
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    ASSERT_EQ(decoded->pixels.size(), first.size());
    EXPECT_LT(MeanAbsDiff(decoded->pixels, first), 3.0) << frames.size() << " frames";
    EXPECT_GT(MeanAbsDiff(decoded->pixels, second), 50.0);
  }
}

TEST(AvifDecodeTest, PixelLimitAndDamageAreErrorsWithoutStderr) {
  cv::Mat page = testing::LabelledPage("limit");
  cv::cvtColor(page, page, cv::COLOR_BGR2RGB);
  Bytes avif = EncodeAvif({page});
  ASSERT_FALSE(avif.empty());
  IngestLimits small;
  small.max_pixels = 1000;
  EXPECT_EQ(DecodeImage(avif.data(), avif.size(), DecodeOptions{}, small).status().code(),
            StatusCode::kResourceExhausted);
  Bytes cut(avif.begin(), avif.begin() + static_cast<long>(avif.size() * 2 / 3));
  Result<DecodedImage> decoded = Status::Ok();
  std::string err = CaptureStderr(
      [&] { decoded = DecodeImage(cut.data(), cut.size(), DecodeOptions{}, IngestLimits{}); });
  EXPECT_FALSE(decoded.ok());
  EXPECT_EQ(err, "");
}

// ------------------------------------------------------------------ PNG

TEST(PngDecodeTest, DamagedPngIsCorruptWithLibpngsMessageAndNothingOnStderr) {
  Bytes png = testing::PagePng("damaged");
  Bytes truncated(png.begin(), png.begin() + static_cast<long>(png.size() / 2));
  Bytes bad_crc = png;
  bad_crc[png.size() / 2] ^= 0x55;  // inside IDAT: a data or CRC error
  for (const Bytes& data : {truncated, bad_crc}) {
    for (DecodeMode mode : {DecodeMode::kExact, DecodeMode::kFast}) {
      DecodeOptions options;
      options.mode = mode;
      Result<DecodedImage> decoded = Status::Ok();
      std::string err = CaptureStderr(
          [&] { decoded = DecodeImage(data.data(), data.size(), options, IngestLimits{}); });
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorrupt) << decoded.status().ToString();
      EXPECT_FALSE(decoded.status().message().empty());
      EXPECT_EQ(err, "");
    }
  }
}

TEST(PngDecodeTest, PixelsMatchOpenCvForEveryColourTypeAndDepth) {
  cv::Mat bgr = testing::LabelledPage("png");
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Mat bgra;
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  cv::Mat bgr16;
  bgr.convertTo(bgr16, CV_16U, 257.0);
  for (const cv::Mat& source : {bgr, gray, bgra, bgr16}) {
    Bytes png = testing::Encode(source, ".png");
    for (DecodeMode mode : {DecodeMode::kExact, DecodeMode::kFast}) {
      DecodeOptions options;
      options.mode = mode;
      Result<DecodedImage> decoded = DecodeImage(png.data(), png.size(), options, IngestLimits{});
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      cv::Mat reference;
      cv::Mat encoded(1, static_cast<int>(png.size()), CV_8UC1, png.data());
      if (mode == DecodeMode::kFast) {
        reference = cv::imdecode(encoded, cv::IMREAD_GRAYSCALE);
      } else {
        cv::Mat raw = cv::imdecode(encoded, cv::IMREAD_UNCHANGED);
        if (raw.depth() == CV_16U) {  // high byte, as the decoder promises
          cv::Mat high(raw.size(), CV_MAKETYPE(CV_8U, raw.channels()));
          for (int y = 0; y < raw.rows; ++y) {
            for (int i = 0; i < raw.cols * raw.channels(); ++i) {
              high.ptr<uint8_t>(y)[i] = static_cast<uint8_t>(raw.ptr<uint16_t>(y)[i] >> 8);
            }
          }
          raw = high;
        }
        if (raw.channels() == 4) cv::cvtColor(raw, raw, cv::COLOR_BGRA2BGR);
        if (raw.channels() == 3) cv::cvtColor(raw, raw, cv::COLOR_BGR2RGB);
        reference = raw;
      }
      ASSERT_EQ(decoded->pixels.type(), reference.type());
      ASSERT_EQ(decoded->pixels.size(), reference.size());
      EXPECT_EQ(cv::norm(decoded->pixels, reference, cv::NORM_INF), 0)
          << "channels " << source.channels() << " depth " << source.depth() << " mode "
          << static_cast<int>(mode);
    }
  }
}

// ------------------------------------------------------------------ stderr

// Adobe CMYK JPEG (TurboJPEG writes it), the input that used to go through
// OpenCV's libjpeg, whose warnings went to stderr.
Bytes CmykJpeg(int width, int height) {
  std::vector<unsigned char> cmyk(static_cast<size_t>(width) * height * 4);
  for (size_t i = 0; i < cmyk.size(); ++i) cmyk[i] = static_cast<unsigned char>((i * 29) % 253);
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), tjDestroy);
  unsigned char* encoded = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj.get(), cmyk.data(), width, 0, height, TJPF_CMYK, &encoded, &size,
                        TJSAMP_420, 85, 0),
            0);
  Bytes out(encoded, encoded + size);
  tjFree(encoded);
  return out;
}

// Damaged variants of a valid file: cut at a third and at two thirds, and with
// bytes overwritten in the middle (inside the compressed data).
std::vector<Bytes> Damaged(const Bytes& valid) {
  Bytes cut1(valid.begin(), valid.begin() + static_cast<long>(valid.size() / 3));
  Bytes cut2(valid.begin(), valid.begin() + static_cast<long>(valid.size() * 2 / 3));
  Bytes garbled = valid;
  for (size_t i = valid.size() / 2; i < valid.size() / 2 + 16 && i < valid.size(); ++i) {
    garbled[i] ^= 0xA5;
  }
  return {cut1, cut2, garbled};
}

TEST(DecoderStderrTest, NoDecoderWritesToStderrForCmykOrDamagedInputOfAnyFormat) {
  cv::Mat page = testing::LabelledPage("stderr", 160, 120);
  std::vector<std::pair<std::string, Bytes>> valid = {
      {"cmyk.jpg", CmykJpeg(64, 48)},
      {"page.jpg", testing::Encode(page, ".jpg")},
      {"progressive.jpg",
       [&] {
         Bytes b;
         cv::imencode(".jpg", page, b, {cv::IMWRITE_JPEG_PROGRESSIVE, 1});
         return b;
       }()},
      {"page.png", testing::Encode(page, ".png")},
      {"page.gif", GrayGif(60, 40, {0, 50}, true)},
      {"page.webp", testing::Encode(page, ".webp")},
      {"page.bmp", testing::Encode(page, ".bmp")},
      {"page.tiff", testing::Encode(page, ".tiff")},
  };
  cv::Mat rgb;
  cv::cvtColor(page, rgb, cv::COLOR_BGR2RGB);
  Bytes avif = EncodeAvif({rgb});
  ASSERT_FALSE(avif.empty());
  valid.push_back({"page.avif", avif});
  int decoded_damaged = 0, failed_damaged = 0;
  for (const auto& [name, bytes] : valid) {
    std::vector<Bytes> inputs = Damaged(bytes);
    inputs.insert(inputs.begin(), bytes);
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (DecodeMode mode : {DecodeMode::kExact, DecodeMode::kFast}) {
        DecodeOptions options;
        options.mode = mode;
        Result<DecodedImage> decoded = Status::Ok();
        std::string err = CaptureStderr([&] {
          decoded = DecodeImage(inputs[i].data(), inputs[i].size(), options, IngestLimits{});
        });
        EXPECT_EQ(err, "") << name << " variant " << i << " mode " << static_cast<int>(mode);
        if (i == 0) {
          EXPECT_TRUE(decoded.ok()) << name << ": " << decoded.status().ToString();
        } else {
          (decoded.ok() ? decoded_damaged : failed_damaged) += 1;
        }
      }
    }
  }
  EXPECT_GT(failed_damaged, 0);
}

TEST(DecoderStderrTest, CmykJpegDecodesWithoutOpenCvAndDamageIsCorrupt) {
  Bytes jpeg = CmykJpeg(64, 48);
  DecodeOptions exact;
  exact.mode = DecodeMode::kExact;
  Result<DecodedImage> decoded = DecodeImage(jpeg.data(), jpeg.size(), exact, IngestLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->pixels.type(), CV_8UC3);
  EXPECT_EQ(decoded->pixels.size(), cv::Size(64, 48));
  Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() / 2));
  Result<DecodedImage> truncated = Status::Ok();
  std::string err = CaptureStderr(
      [&] { truncated = DecodeImage(cut.data(), cut.size(), exact, IngestLimits{}); });
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorrupt) << truncated.status().ToString();
  EXPECT_THAT(truncated.status().message(), HasSubstr("image/jpeg"));
  EXPECT_EQ(err, "");
}

}  // namespace
}  // namespace kagami::ingest
