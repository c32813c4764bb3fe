#include "kagami/index/local_index.h"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryIVF.h>
#include "scoped_single_threaded_omp.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>

#include "kagami/fingerprint/hamming.h"

namespace kagami::index {

// 256-bit descriptors (ORB) are searched exhaustively with Kagami's own
// Hamming kernel (fingerprint/hamming.h, AVX2 popcount) until Build() moves them
// to IVF: Debian's FAISS is built without hardware popcount, and its flat
// search spent most of a scan's time in libgcc's software __popcountdi2.
static_assert(sizeof(fingerprint::Hash256) == 32, "ORB codes are stored as Hash256");

struct LocalIndex::Impl {
  fingerprint::FeatureKind kind;
  LocalIndexOptions options;
  int code_bytes;
  bool own_flat = false;                      // 32-byte codes in `codes`, not in `index`
  std::vector<fingerprint::Hash256> codes;    // own flat storage (own_flat && !ivf)
  std::unique_ptr<faiss::IndexBinary> index;  // FAISS flat (other sizes) or IVF after Build()
  bool ivf = false;
  std::vector<int64_t> unit_of;  // sequential id -> unit id

  int64_t total() const {
    return own_flat && !ivf ? static_cast<int64_t>(codes.size()) : index->ntotal;
  }

  // k nearest codes per query within max_distance, as FAISS's search reports
  // them (labels -1 where fewer exist).
  void SearchOwnFlat(const uint8_t* queries, int n, int k, int32_t* distances,
                     faiss::IndexBinary::idx_t* labels) const {
    std::vector<int> dist(codes.size());
    std::vector<std::pair<int, int64_t>> near;
    for (int i = 0; i < n; ++i) {
      fingerprint::Hash256 q;
      std::memcpy(q.bytes.data(), queries + static_cast<size_t>(i) * 32, 32);
      fingerprint::HammingDistances(q, codes.data(), codes.size(), dist.data());
      near.clear();
      for (size_t j = 0; j < dist.size(); ++j) {
        if (dist[j] <= options.max_distance) near.emplace_back(dist[j], static_cast<int64_t>(j));
      }
      const size_t keep = std::min<size_t>(near.size(), static_cast<size_t>(k));
      std::partial_sort(near.begin(), near.begin() + keep, near.end());
      for (int j = 0; j < k; ++j) {
        const size_t at = static_cast<size_t>(i) * k + j;
        distances[at] = j < static_cast<int>(keep) ? near[j].first : 0;
        labels[at] = j < static_cast<int>(keep) ? near[j].second : -1;
      }
    }
  }
};

LocalIndex::LocalIndex(fingerprint::FeatureKind kind, LocalIndexOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->kind = kind;
  impl_->options = options;
  impl_->code_bytes = fingerprint::DescriptorBytes(kind);
  assert(fingerprint::IsBinary(kind) && "LocalIndex holds binary descriptors only");
  impl_->own_flat = impl_->code_bytes == 32;
  impl_->index = std::make_unique<faiss::IndexBinaryFlat>(impl_->code_bytes * 8);
}

LocalIndex::~LocalIndex() = default;

Status LocalIndex::Add(int64_t unit_id, const fingerprint::LocalFeatures& features) {
  if (features.kind != impl_->kind || !fingerprint::IsBinary(features.kind)) {
    return Status::InvalidArgument("local index: features of unit " + std::to_string(unit_id) +
                                   " are of another kind than the index");
  }
  const int n = features.size();
  if (n == 0) return Status::Ok();
  if (features.descriptors.rows != n || features.descriptors.cols != impl_->code_bytes ||
      !features.descriptors.isContinuous()) {
    return Status::InvalidArgument("local index: malformed descriptors for unit " +
                                   std::to_string(unit_id));
  }
  if (impl_->own_flat && !impl_->ivf) {
    const size_t old_size = impl_->codes.size();
    impl_->codes.resize(old_size + static_cast<size_t>(n));
    std::memcpy(impl_->codes[old_size].bytes.data(), features.descriptors.ptr<uint8_t>(),
                static_cast<size_t>(n) * 32);
    impl_->unit_of.insert(impl_->unit_of.end(), n, unit_id);
    return Status::Ok();
  }
  try {
    impl_->index->add(n, features.descriptors.ptr<uint8_t>());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("local index: FAISS add failed: ") + e.what());
  }
  impl_->unit_of.insert(impl_->unit_of.end(), n, unit_id);
  return Status::Ok();
}

Status LocalIndex::Build() {
  const int64_t n = impl_->total();
  if (impl_->ivf || n <= impl_->options.ivf_min_descriptors) return Status::Ok();
  auto* flat = dynamic_cast<faiss::IndexBinaryFlat*>(impl_->index.get());
  assert(flat != nullptr);
  const uint8_t* all_codes = impl_->own_flat ? impl_->codes.front().bytes.data() : flat->xb.data();
  try {
    // About sqrt(n) lists, each a few thousand codes at most.
    const size_t nlist =
        std::clamp<size_t>(static_cast<size_t>(std::sqrt(static_cast<double>(n))), 16, 65536);
    auto quantizer = std::make_unique<faiss::IndexBinaryFlat>(impl_->code_bytes * 8);
    auto ivf =
        std::make_unique<faiss::IndexBinaryIVF>(quantizer.get(), impl_->code_bytes * 8, nlist);
    ivf->own_fields = true;
    quantizer.release();
    ivf->nprobe = static_cast<size_t>(std::max(1, impl_->options.nprobe));
    // Train on at most 256 codes per list (FAISS's own guidance for k-means).
    const int64_t train_n = std::min<int64_t>(n, static_cast<int64_t>(nlist) * 256);
    ivf->train(train_n, all_codes);
    ivf->add(n, all_codes);
    impl_->index = std::move(ivf);
    impl_->ivf = true;
    impl_->codes.clear();
    impl_->codes.shrink_to_fit();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("local index: FAISS IVF build failed: ") + e.what());
  }
  return Status::Ok();
}

std::vector<Candidate> LocalIndex::Vote(const fingerprint::LocalFeatures& query,
                                        int max_candidates) const {
  std::vector<Candidate> out;
  const int n = query.size();
  const int64_t total = impl_->total();
  if (n == 0 || total == 0 || max_candidates <= 0 || query.kind != impl_->kind ||
      query.descriptors.cols != impl_->code_bytes || !query.descriptors.isContinuous()) {
    return out;
  }
  const int k = static_cast<int>(std::min<int64_t>(std::max(1, impl_->options.neighbours), total));
  std::vector<int32_t> distances(static_cast<size_t>(n) * k);
  std::vector<faiss::IndexBinary::idx_t> labels(static_cast<size_t>(n) * k);
  if (impl_->own_flat && !impl_->ivf) {
    impl_->SearchOwnFlat(query.descriptors.ptr<uint8_t>(), n, k, distances.data(), labels.data());
  } else {
    try {
      internal::ScopedSingleThreadedOmp single_threaded;
      impl_->index->search(n, query.descriptors.ptr<uint8_t>(), k, distances.data(), labels.data());
    } catch (const std::exception&) {
      return out;
    }
  }
  std::unordered_map<int64_t, int> votes;
  std::vector<int64_t> seen;
  for (int i = 0; i < n; ++i) {
    seen.clear();
    for (int j = 0; j < k; ++j) {
      const size_t at = static_cast<size_t>(i) * k + j;
      const faiss::IndexBinary::idx_t label = labels[at];
      if (label < 0 || distances[at] > impl_->options.max_distance) continue;
      const int64_t unit = impl_->unit_of[static_cast<size_t>(label)];
      if (std::find(seen.begin(), seen.end(), unit) != seen.end()) continue;
      seen.push_back(unit);
      ++votes[unit];
    }
  }
  out.reserve(votes.size());
  for (const auto& [unit, v] : votes) out.push_back({unit, v});
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.votes != b.votes ? a.votes > b.votes : a.unit_id < b.unit_id;
  });
  if (static_cast<int>(out.size()) > max_candidates) out.resize(max_candidates);
  return out;
}

int64_t LocalIndex::descriptors() const { return impl_->total(); }

bool LocalIndex::uses_ivf() const { return impl_->ivf; }

}  // namespace kagami::index
