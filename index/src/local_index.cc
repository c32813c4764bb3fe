#include "kagami/index/local_index.h"

#include <faiss/IndexBinaryFlat.h>
#include <faiss/IndexBinaryIVF.h>
#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <exception>
#include <string>
#include <unordered_map>

namespace kagami::index {

namespace {

// FAISS's OpenMP regions run single-threaded on the calling thread (an OpenMP
// ICV, per thread): callers parallelise across pages themselves, and nested
// OpenMP teams would oversubscribe the cores (and spin under load).
class ScopedSingleThreadedOmp {
 public:
  ScopedSingleThreadedOmp() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~ScopedSingleThreadedOmp() { omp_set_num_threads(previous_); }
  ScopedSingleThreadedOmp(const ScopedSingleThreadedOmp&) = delete;
  ScopedSingleThreadedOmp& operator=(const ScopedSingleThreadedOmp&) = delete;

 private:
  int previous_;
};

}  // namespace

struct LocalIndex::Impl {
  fingerprint::FeatureKind kind;
  LocalIndexOptions options;
  int code_bytes;
  std::unique_ptr<faiss::IndexBinary> index;  // flat until Build() switches to IVF
  bool ivf = false;
  std::vector<int64_t> unit_of;  // FAISS sequential id -> unit id
};

LocalIndex::LocalIndex(fingerprint::FeatureKind kind, LocalIndexOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->kind = kind;
  impl_->options = options;
  impl_->code_bytes = fingerprint::DescriptorBytes(kind);
  assert(fingerprint::IsBinary(kind) && "LocalIndex holds binary descriptors only");
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
  try {
    impl_->index->add(n, features.descriptors.ptr<uint8_t>());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("local index: FAISS add failed: ") + e.what());
  }
  impl_->unit_of.insert(impl_->unit_of.end(), n, unit_id);
  return Status::Ok();
}

Status LocalIndex::Build() {
  const int64_t n = impl_->index->ntotal;
  if (impl_->ivf || n <= impl_->options.ivf_min_descriptors) return Status::Ok();
  auto* flat = dynamic_cast<faiss::IndexBinaryFlat*>(impl_->index.get());
  assert(flat != nullptr);
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
    ivf->train(train_n, flat->xb.data());
    ivf->add(n, flat->xb.data());
    impl_->index = std::move(ivf);
    impl_->ivf = true;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("local index: FAISS IVF build failed: ") + e.what());
  }
  return Status::Ok();
}

std::vector<Candidate> LocalIndex::Vote(const fingerprint::LocalFeatures& query,
                                        int max_candidates) const {
  std::vector<Candidate> out;
  const int n = query.size();
  const int64_t total = impl_->index->ntotal;
  if (n == 0 || total == 0 || max_candidates <= 0 || query.kind != impl_->kind ||
      query.descriptors.cols != impl_->code_bytes || !query.descriptors.isContinuous()) {
    return out;
  }
  const int k = static_cast<int>(std::min<int64_t>(std::max(1, impl_->options.neighbours), total));
  std::vector<int32_t> distances(static_cast<size_t>(n) * k);
  std::vector<faiss::IndexBinary::idx_t> labels(static_cast<size_t>(n) * k);
  try {
    ScopedSingleThreadedOmp single_threaded;
    impl_->index->search(n, query.descriptors.ptr<uint8_t>(), k, distances.data(), labels.data());
  } catch (const std::exception&) {
    return out;
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

int64_t LocalIndex::descriptors() const { return impl_->index->ntotal; }

bool LocalIndex::uses_ivf() const { return impl_->ivf; }

}  // namespace kagami::index
