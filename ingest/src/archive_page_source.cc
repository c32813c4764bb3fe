#include "archive_page_source.h"

#include <algorithm>
#include <exception>
#include <new>
#include <set>

#include "kagami/ingest/volume.h"
#include "member_names.h"

namespace kagami::ingest::internal {
namespace {

bool IsCandidate(const std::string& name) {
  return !IsHiddenPath(name) && (HasImageExtension(name) || HasArchiveExtension(name));
}

}  // namespace

Result<std::unique_ptr<ArchivePageSource>> ArchivePageSource::Open(
    ArchiveOrigin origin, std::string member_prefix, int nesting_level, const IngestLimits& limits,
    std::shared_ptr<ByteBudget> budget) {
  std::unique_ptr<ArchivePageSource> source(new ArchivePageSource());
  KAGAMI_ASSIGN_OR_RETURN(
      source->listing_,
      ListArchive(origin, limits, budget.get(), [](const std::string& name, bool cheap_skip) {
        return !cheap_skip && IsCandidate(name);
      }));
  const std::vector<ArchiveEntry>& entries = source->listing_.entries;
  std::set<size_t> streamed;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (!IsCandidate(entries[i].name)) continue;
    source->order_.push_back(i);
    if (!entries[i].captured) streamed.insert(entries[i].header_index);
  }
  std::stable_sort(source->order_.begin(), source->order_.end(), [&](size_t a, size_t b) {
    return NaturalLess(entries[a].name, entries[b].name);
  });
  if (!streamed.empty()) {
    source->stream_ =
        std::make_unique<MemberStream>(origin, std::move(streamed), limits, budget.get());
  }
  source->origin_ = std::move(origin);
  source->prefix_ = std::move(member_prefix);
  source->nesting_level_ = nesting_level;
  source->limits_ = limits;
  source->budget_ = std::move(budget);
  return source;
}

EncodedPage ArchivePageSource::ErrorPage(std::string member, Status status) const {
  EncodedPage page;
  page.member = std::move(member);
  page.status = std::move(status);
  return page;
}

std::optional<EncodedPage> ArchivePageSource::Next() {
  try {
    return NextUnguarded();
  } catch (const std::bad_alloc&) {
    done_ = true;
    return ErrorPage(prefix_, Status::ResourceExhausted(origin_.label + ": out of memory"));
  } catch (const std::exception& e) {
    done_ = true;
    return ErrorPage(prefix_, Status::Internal(origin_.label + ": " + e.what()));
  }
}

std::optional<EncodedPage> ArchivePageSource::NextUnguarded() {
  for (;;) {
    if (child_) {
      std::optional<EncodedPage> page = child_->Next();
      if (page) return page;
      child_.reset();
    }
    if (done_) return std::nullopt;
    if (next_ >= order_.size()) {
      done_ = true;
      if (!listing_.tail.ok()) return ErrorPage(prefix_, listing_.tail);
      return std::nullopt;
    }
    ArchiveEntry& entry = listing_.entries[order_[next_++]];
    std::string member = prefix_ + entry.name;
    std::string where = origin_.label + ": " + entry.name;
    Result<std::vector<unsigned char>> data =
        entry.captured ? std::move(*entry.captured) : stream_->Read(entry.header_index, entry.name);
    entry.captured.reset();
    if (!data.ok()) {
      // A broken stream reads nothing more; its message already says why.
      if (stream_ && stream_->broken()) done_ = true;
      return ErrorPage(std::move(member), data.status());
    }
    MediaKind kind = SniffMediaKind(data->data(), data->size(), nullptr);
    switch (kind) {
      case MediaKind::kImage: {
        EncodedPage page;
        page.member = std::move(member);
        page.bytes = std::move(data).value();
        return page;
      }
      case MediaKind::kArchive: {
        if (nesting_level_ + 1 > limits_.max_nesting) {
          return ErrorPage(std::move(member),
                           Status::ResourceExhausted(where + ": archive nested more than " +
                                                     std::to_string(limits_.max_nesting) +
                                                     " level(s) deep (max_nesting); not expanded"));
        }
        ArchiveOrigin inner;
        inner.memory = std::make_shared<const std::vector<unsigned char>>(std::move(data).value());
        inner.label = where;
        Result<std::unique_ptr<ArchivePageSource>> child =
            Open(std::move(inner), member + "/", nesting_level_ + 1, limits_, budget_);
        if (!child.ok()) return ErrorPage(std::move(member), child.status());
        child_ = std::move(child).value();
        continue;
      }
      case MediaKind::kPdf:
      case MediaKind::kEpub:
        return ErrorPage(std::move(member),
                         Status::Unsupported(where + ": PDF or EPUB inside an archive is not "
                                                     "read; extract it and pass it directly"));
      case MediaKind::kUnknown:
        return ErrorPage(std::move(member),
                         Status::Corrupt(where + ": not an image (its bytes match no known "
                                                 "image or archive format)"));
    }
  }
}

}  // namespace kagami::ingest::internal
