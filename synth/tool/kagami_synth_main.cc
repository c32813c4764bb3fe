// kagami-synth: writes synthetic manga pages, pirate-style edits of them, and a
// small demo tree (registered works + suspect copies) for trying Kagami end to end.
//
//   kagami-synth pages --out DIR --count N [--seed S] [--width W --height H] [--format jpg|png]
//   kagami-synth edit --in FILE --out FILE --edit NAME [--seed S]
//   kagami-synth demo --out DIR
//
// Output is deterministic: same arguments, same bytes (cbz entries carry a fixed mtime).

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kagami/synth/page_generator.h"

namespace {

namespace fs = std::filesystem;
using kagami::synth::Edit;

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

struct Member {
  std::string name;
  std::vector<unsigned char> bytes;
};

// Writes a zip (cbz) with the members stored (JPEG/PNG do not deflate further).
bool WriteCbz(const fs::path& path, const std::vector<Member>& members, std::string* error) {
  std::unique_ptr<archive, ArchiveDeleter> a(archive_write_new());
  if (!a || archive_write_set_format_zip(a.get()) != ARCHIVE_OK ||
      archive_write_set_options(a.get(), "zip:compression=store") != ARCHIVE_OK ||
      archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    *error = "cannot create " + path.string() + ": " +
             (a ? archive_error_string(a.get()) : "libarchive");
    return false;
  }
  for (const Member& m : members) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), m.name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(m.bytes.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_mtime(e.get(), 1700000000, 0);  // fixed: deterministic archives
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), m.bytes.data(), m.bytes.size()) !=
            static_cast<la_ssize_t>(m.bytes.size())) {
      *error =
          "writing " + m.name + " into " + path.string() + ": " + archive_error_string(a.get());
      return false;
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    *error = "closing " + path.string() + ": " + archive_error_string(a.get());
    return false;
  }
  return true;
}

bool WriteFile(const fs::path& path, const std::vector<unsigned char>& bytes, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    *error = "cannot write " + path.string();
    return false;
  }
  return true;
}

std::string PageName(int index, const std::string& ext) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "p%03d.%s", index + 1, ext.c_str());
  return buf;
}

// Flags as --name value pairs after the subcommand.
struct Args {
  std::map<std::string, std::string> values;

  std::optional<std::string> Get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

bool ParseArgs(int argc, char** argv, int first, Args* args, std::string* error) {
  for (int i = first; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) {
      *error = "expected --flag value, got '" + flag + "'";
      return false;
    }
    args->values[flag.substr(2)] = argv[++i];
  }
  return true;
}

bool ParseInt(const std::optional<std::string>& s, int64_t lo, int64_t hi, int64_t* out,
              const char* name, std::string* error) {
  if (!s) return true;
  try {
    size_t used = 0;
    const long long v = std::stoll(*s, &used, 10);
    if (used != s->size() || v < lo || v > hi) throw std::out_of_range(name);
    *out = v;
    return true;
  } catch (const std::exception&) {
    *error = std::string("--") + name + " must be an integer in [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "], got '" + *s + "'";
    return false;
  }
}

std::vector<unsigned char> Encode(const cv::Mat& page, const std::string& format) {
  return format == "png" ? kagami::synth::EncodePng(page) : kagami::synth::EncodeJpeg(page, 90);
}

int Pages(const Args& args) {
  std::string error;
  int64_t count = 0, seed = 1, width = 1200, height = 1700;
  const auto out = args.Get("out");
  const std::string format = args.Get("format").value_or("jpg");
  if (!out || !args.Get("count")) error = "pages needs --out DIR and --count N";
  if (error.empty() && format != "jpg" && format != "png") error = "--format must be jpg or png";
  if (!error.empty() || !ParseInt(args.Get("count"), 1, 999, &count, "count", &error) ||
      !ParseInt(args.Get("seed"), 0, INT64_MAX, &seed, "seed", &error) ||
      !ParseInt(args.Get("width"), 64, 8000, &width, "width", &error) ||
      !ParseInt(args.Get("height"), 64, 8000, &height, "height", &error)) {
    std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
    return 2;
  }
  std::error_code ec;
  fs::create_directories(*out, ec);
  for (int i = 0; i < count; ++i) {
    const cv::Mat page = kagami::synth::GenerateMangaPage(
        static_cast<uint64_t>(seed) + i, static_cast<int>(width), static_cast<int>(height));
    const fs::path path = fs::path(*out) / PageName(i, format);
    if (!WriteFile(path, Encode(page, format), &error)) {
      std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
      return 1;
    }
    std::printf("%s\n", path.c_str());
  }
  return 0;
}

int EditCommand(const Args& args) {
  std::string error;
  int64_t seed = 1;
  const auto in = args.Get("in");
  const auto out = args.Get("out");
  const auto name = args.Get("edit");
  std::optional<Edit> edit;
  if (!in || !out || !name) {
    error = "edit needs --in FILE --out FILE --edit NAME";
  } else if (!(edit = kagami::synth::ParseEdit(*name))) {
    error = "unknown edit '" + *name + "'; one of: none";
    for (Edit e : kagami::synth::AllEdits())
      error += ", " + std::string(kagami::synth::EditName(e));
  }
  if (!error.empty() || !ParseInt(args.Get("seed"), 0, INT64_MAX, &seed, "seed", &error)) {
    std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
    return 2;
  }
  const cv::Mat page = cv::imread(*in, cv::IMREAD_COLOR);
  if (page.empty()) {
    std::fprintf(stderr, "kagami-synth: cannot read image %s\n", in->c_str());
    return 1;
  }
  const cv::Mat edited = kagami::synth::ApplyEdit(page, *edit, static_cast<uint64_t>(seed));
  const std::string ext = fs::path(*out).extension() == ".png" ? "png" : "jpg";
  if (!WriteFile(*out, Encode(edited, ext), &error)) {
    std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s (%s, %dx%d)\n", out->c_str(), name->c_str(), edited.cols, edited.rows);
  return 0;
}

struct DemoWork {
  const char* id;
  uint64_t seed_base;
  int pages;
  bool as_cbz;
};

int Demo(const Args& args) {
  const auto out = args.Get("out");
  if (!out) {
    std::fprintf(stderr, "kagami-synth: demo needs --out DIR\n");
    return 2;
  }
  const DemoWork works[] = {
      {"moonlit-ronin", 1000, 12, false},
      {"harbor-days", 2000, 12, true},
      {"clockwork-sky", 3000, 10, false},
  };
  std::string error;
  std::error_code ec;
  auto fail = [&]() {
    std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
    return 1;
  };
  auto mkdirs = [&](const fs::path& p) {
    fs::create_directories(p, ec);
    if (ec) error = "cannot create " + p.string() + ": " + ec.message();
    return !ec;
  };
  std::map<std::string, std::vector<cv::Mat>> pages;
  const fs::path root(*out);
  for (const DemoWork& w : works) {
    std::vector<Member> members;
    for (int i = 0; i < w.pages; ++i) {
      pages[w.id].push_back(kagami::synth::GenerateMangaPage(w.seed_base + i));
      members.push_back({PageName(i, "jpg"), kagami::synth::EncodeJpeg(pages[w.id].back(), 92)});
    }
    const fs::path dir = root / "registered" / w.id;
    if (!mkdirs(dir)) return fail();
    if (w.as_cbz) {
      const fs::path cbz = dir / "vol01.cbz";
      if (!WriteCbz(cbz, members, &error)) return fail();
      std::printf("registered %-14s %s (%d pages)\n", w.id, cbz.c_str(), w.pages);
    } else {
      const fs::path vol = dir / "vol01";
      if (!mkdirs(vol)) return fail();
      for (const Member& m : members) {
        if (!WriteFile(vol / m.name, m.bytes, &error)) return fail();
      }
      std::printf("registered %-14s %s/ (%d pages)\n", w.id, vol.c_str(), w.pages);
    }
  }
  // Suspect 1: a scanlation site's folder of moonlit-ronin with mixed edits.
  const Edit site_a_edits[] = {Edit::kJpegQ30, Edit::kRescale50,      Edit::kCrop3,
                               Edit::kMirror,  Edit::kWatermarkStrip, Edit::kGrayscale};
  const fs::path site_a = root / "suspects" / "site-a-moonlit-ronin";
  if (!mkdirs(site_a)) return fail();
  for (int i = 0; i < 8; ++i) {
    const Edit e = site_a_edits[i % std::size(site_a_edits)];
    const cv::Mat edited = kagami::synth::ApplyEdit(pages["moonlit-ronin"][i + 2], e, 7000 + i);
    const fs::path p = site_a / PageName(i, "jpg");
    if (!WriteFile(p, kagami::synth::EncodeJpeg(edited, 80), &error)) return fail();
    std::printf("suspect    %s (moonlit-ronin p%03d, %s)\n", p.c_str(), i + 3,
                std::string(kagami::synth::EditName(e)).c_str());
  }
  // Suspect 2: a cbz of harbor-days pages, padded / cropped / credited / re-lettered.
  const Edit site_b_edits[] = {Edit::kCrop5,       Edit::kPad16x9, Edit::kCreditsStrip,
                               Edit::kBalloonText, Edit::kRotate2, Edit::kJpegQ30};
  std::vector<Member> site_b;
  std::string site_b_list;
  for (int i = 0; i < 6; ++i) {
    const Edit e = site_b_edits[i];
    const cv::Mat edited = kagami::synth::ApplyEdit(pages["harbor-days"][i * 2], e, 8000 + i);
    site_b.push_back({PageName(i, "jpg"), kagami::synth::EncodeJpeg(edited, 85)});
    site_b_list += " p" + std::to_string(i * 2 + 1) + ":" + std::string(kagami::synth::EditName(e));
  }
  const fs::path site_b_path = root / "suspects" / "site-b-harbor-days.cbz";
  if (!WriteCbz(site_b_path, site_b, &error)) return fail();
  std::printf("suspect    %s (harbor-days,%s)\n", site_b_path.c_str(), site_b_list.c_str());
  // Suspect 3: unrelated pages in the same style; nothing here may match.
  const fs::path unrelated = root / "suspects" / "unrelated";
  if (!mkdirs(unrelated)) return fail();
  for (int i = 0; i < 8; ++i) {
    const fs::path p = unrelated / PageName(i, "jpg");
    if (!WriteFile(p, kagami::synth::EncodeJpeg(kagami::synth::GenerateMangaPage(900000 + i), 85),
                   &error)) {
      return fail();
    }
  }
  std::printf("unrelated  %s/ (8 pages, seeds 900000..900007: must not match)\n",
              unrelated.c_str());
  return 0;
}

void Usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  kagami-synth pages --out DIR --count N [--seed S] [--width W --height H] "
               "[--format jpg|png]\n"
               "  kagami-synth edit --in FILE --out FILE --edit NAME [--seed S]\n"
               "  kagami-synth demo --out DIR\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    Usage();
    return 2;
  }
  const std::string command = argv[1];
  Args args;
  std::string error;
  if (!ParseArgs(argc, argv, 2, &args, &error)) {
    std::fprintf(stderr, "kagami-synth: %s\n", error.c_str());
    Usage();
    return 2;
  }
  try {
    if (command == "pages") return Pages(args);
    if (command == "edit") return EditCommand(args);
    if (command == "demo") return Demo(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kagami-synth: %s\n", e.what());
    return 1;
  }
  Usage();
  return 2;
}
