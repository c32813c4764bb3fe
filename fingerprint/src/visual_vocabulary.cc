#include "kagami/fingerprint/visual_vocabulary.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include "kagami/fingerprint/hamming.h"

// The built-in vocabulary's bytes, linked into the library (see CMakeLists.txt).
#ifdef KAGAMI_VOCABULARY_FILE
#define KAGAMI_STR2(x) #x
#define KAGAMI_STR(x) KAGAMI_STR2(x)
__asm__(".section .rodata\n"
        ".balign 64\n"
        ".global kagami_builtin_vocabulary\n"
        "kagami_builtin_vocabulary:\n"
        ".incbin \"" KAGAMI_STR(KAGAMI_VOCABULARY_FILE) "\"\n"
        ".global kagami_builtin_vocabulary_end\n"
        "kagami_builtin_vocabulary_end:\n"
        ".previous\n");
extern "C" const uint8_t kagami_builtin_vocabulary[];
extern "C" const uint8_t kagami_builtin_vocabulary_end[];
#endif

namespace kagami::fingerprint {
namespace {

constexpr uint8_t kMagic[4] = {'K', 'V', 'W', '1'};
constexpr size_t kHeaderBytes = 4 + 4 + 4 + VisualVocabulary::kSignatureBits;

int Nearest(const Hash256& q, const Hash256* centres, size_t n, int* dist) {
  HammingDistances(q, centres, n, dist);
  return static_cast<int>(std::min_element(dist, dist + n) - dist);
}

// k-majority: Lloyd iterations with Hamming assignment and per-bit majority
// centroids. Empty clusters are reseeded from the sample farthest from its
// centre. Returns the assignment of every sample.
std::vector<Hash256> KMajority(const std::vector<const Hash256*>& data, int k, int iterations,
                               std::mt19937_64& rng, std::vector<int>* assignment) {
  const size_t n = data.size();
  std::vector<Hash256> centres(k);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  for (int c = 0; c < k; ++c) centres[c] = *data[order[c % n]];
  std::vector<int> assign(n, 0), best_dist(n, 0), dist(k);
  for (int it = 0; it <= iterations; ++it) {
    for (size_t i = 0; i < n; ++i) {
      assign[i] = Nearest(*data[i], centres.data(), centres.size(), dist.data());
      best_dist[i] = dist[assign[i]];
    }
    if (it == iterations) break;
    std::vector<std::array<int, 256>> ones(k);
    for (auto& o : ones) o.fill(0);
    std::vector<int> count(k, 0);
    for (size_t i = 0; i < n; ++i) {
      ++count[assign[i]];
      auto& o = ones[assign[i]];
      for (int b = 0; b < 256; ++b) o[b] += data[i]->GetBit(b);
    }
    for (int c = 0; c < k; ++c) {
      if (count[c] == 0) {
        const size_t far = std::max_element(best_dist.begin(), best_dist.end()) - best_dist.begin();
        centres[c] = *data[far];
        best_dist[far] = 0;
        continue;
      }
      Hash256 h;
      for (int b = 0; b < 256; ++b) {
        if (2 * ones[c][b] > count[c] || (2 * ones[c][b] == count[c] && (rng() & 1))) h.SetBit(b);
      }
      centres[c] = h;
    }
  }
  if (assignment != nullptr) *assignment = std::move(assign);
  return centres;
}

uint32_t Fnv1a(std::span<const uint8_t> bytes) {
  uint32_t h = 2166136261u;
  for (uint8_t b : bytes) h = (h ^ b) * 16777619u;
  return h;
}

}  // namespace

const VisualVocabulary& VisualVocabulary::BuiltIn() {
  static const VisualVocabulary vocabulary = [] {
#ifdef KAGAMI_VOCABULARY_FILE
    Result<VisualVocabulary> v = Deserialize(std::span<const uint8_t>(
        kagami_builtin_vocabulary,
        static_cast<size_t>(kagami_builtin_vocabulary_end - kagami_builtin_vocabulary)));
    assert(v.ok() && "the built-in vocabulary is linked from fingerprint/data");
    if (v.ok()) return std::move(v).value();
#endif
    return VisualVocabulary();
  }();
  return vocabulary;
}

Result<VisualVocabulary> VisualVocabulary::Train(std::span<const Hash256> descriptors, int branch1,
                                                 int branch2, int iterations, uint64_t seed) {
  if (branch1 < 2 || branch1 > 256 || branch2 < 2 || branch2 > 256) {
    return Status::InvalidArgument("vocabulary branches must be 2..256");
  }
  if (descriptors.size() < static_cast<size_t>(branch1) * 4) {
    return Status::InvalidArgument("vocabulary training needs at least " +
                                   std::to_string(branch1 * 4) + " descriptors");
  }
  std::mt19937_64 rng(seed);
  std::vector<const Hash256*> all;
  all.reserve(descriptors.size());
  for (const Hash256& d : descriptors) all.push_back(&d);
  VisualVocabulary v;
  v.branch1_ = branch1;
  v.branch2_ = branch2;
  std::vector<int> top_assign;
  v.top_ = KMajority(all, branch1, iterations, rng, &top_assign);
  v.leaves_.resize(static_cast<size_t>(branch1) * branch2);
  // Within-leaf bit variance, summed over leaves weighted by size.
  std::vector<double> variance(256, 0.0);
  for (int c = 0; c < branch1; ++c) {
    std::vector<const Hash256*> members;
    for (size_t i = 0; i < all.size(); ++i) {
      if (top_assign[i] == c) members.push_back(all[i]);
    }
    if (members.empty()) members.push_back(&v.top_[c]);
    std::vector<int> leaf_assign;
    std::vector<Hash256> leaves = KMajority(members, branch2, iterations, rng, &leaf_assign);
    std::copy(leaves.begin(), leaves.end(), v.leaves_.begin() + static_cast<size_t>(c) * branch2);
    std::vector<std::array<int, 256>> ones(branch2);
    for (auto& o : ones) o.fill(0);
    std::vector<int> count(branch2, 0);
    for (size_t i = 0; i < members.size(); ++i) {
      ++count[leaf_assign[i]];
      for (int b = 0; b < 256; ++b) ones[leaf_assign[i]][b] += members[i]->GetBit(b);
    }
    for (int l = 0; l < branch2; ++l) {
      if (count[l] < 2) continue;
      for (int b = 0; b < 256; ++b) {
        const double p = static_cast<double>(ones[l][b]) / count[l];
        variance[b] += count[l] * p * (1 - p);
      }
    }
  }
  std::vector<int> bits(256);
  std::iota(bits.begin(), bits.end(), 0);
  std::stable_sort(bits.begin(), bits.end(),
                   [&](int a, int b) { return variance[a] > variance[b]; });
  std::sort(bits.begin(), bits.begin() + kSignatureBits);
  for (int i = 0; i < kSignatureBits; ++i) v.signature_bits_[i] = static_cast<uint8_t>(bits[i]);
  v.ComputeId();
  return v;
}

std::vector<uint8_t> VisualVocabulary::Serialize() const {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  auto put32 = [&](uint32_t x) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(x >> (8 * i)));
  };
  put32(static_cast<uint32_t>(branch1_));
  put32(static_cast<uint32_t>(branch2_));
  out.insert(out.end(), signature_bits_, signature_bits_ + kSignatureBits);
  for (const Hash256& h : top_) out.insert(out.end(), h.bytes.begin(), h.bytes.end());
  for (const Hash256& h : leaves_) out.insert(out.end(), h.bytes.begin(), h.bytes.end());
  return out;
}

Result<VisualVocabulary> VisualVocabulary::Deserialize(std::span<const uint8_t> blob) {
  if (blob.size() < kHeaderBytes || std::memcmp(blob.data(), kMagic, 4) != 0) {
    return Status::Corrupt("visual vocabulary: missing 'KVW1' header");
  }
  auto get32 = [&](size_t at) {
    return static_cast<uint32_t>(blob[at]) | (static_cast<uint32_t>(blob[at + 1]) << 8) |
           (static_cast<uint32_t>(blob[at + 2]) << 16) |
           (static_cast<uint32_t>(blob[at + 3]) << 24);
  };
  VisualVocabulary v;
  const uint32_t b1 = get32(4), b2 = get32(8);
  if (b1 < 2 || b1 > 256 || b2 < 2 || b2 > 256) {
    return Status::Corrupt("visual vocabulary: branches out of range");
  }
  v.branch1_ = static_cast<int>(b1);
  v.branch2_ = static_cast<int>(b2);
  const size_t expected = kHeaderBytes + 32 * (static_cast<size_t>(b1) + size_t{b1} * b2);
  if (blob.size() != expected) {
    return Status::Corrupt("visual vocabulary: " + std::to_string(blob.size()) +
                           " bytes, expected " + std::to_string(expected));
  }
  for (int i = 0; i < kSignatureBits; ++i) v.signature_bits_[i] = blob[12 + i];
  const uint8_t* p = blob.data() + kHeaderBytes;
  v.top_.resize(b1);
  for (Hash256& h : v.top_) {
    std::memcpy(h.bytes.data(), p, 32);
    p += 32;
  }
  v.leaves_.resize(size_t{b1} * b2);
  for (Hash256& h : v.leaves_) {
    std::memcpy(h.bytes.data(), p, 32);
    p += 32;
  }
  v.ComputeId();
  return v;
}

void VisualVocabulary::ComputeId() {
  const std::vector<uint8_t> bytes = Serialize();
  id_ = Fnv1a(bytes);
}

uint32_t VisualVocabulary::Word(const Hash256& descriptor) const {
  uint32_t w = 0;
  Words(descriptor, 1, &w);
  return w;
}

namespace {

// The `n` smallest of dist[0..size), nearest first, ties by index.
int Smallest(const int* dist, int size, int n, uint32_t* out) {
  n = std::min(n, size);
  int order[256];
  std::iota(order, order + size, 0);
  std::partial_sort(order, order + n, order + size,
                    [&](int a, int b) { return dist[a] != dist[b] ? dist[a] < dist[b] : a < b; });
  for (int i = 0; i < n; ++i) out[i] = static_cast<uint32_t>(order[i]);
  return n;
}

}  // namespace

int VisualVocabulary::Words(const Hash256& descriptor, int n, uint32_t* out) const {
  assert(branch1_ > 0 && n >= 1);
  int dist[256];
  const int top = Nearest(descriptor, top_.data(), top_.size(), dist);
  return LeafWords(descriptor, top, n, out);
}

int VisualVocabulary::LeafWords(const Hash256& descriptor, int top, int n, uint32_t* out) const {
  int dist[256];
  const Hash256* leaves = leaves_.data() + static_cast<size_t>(top) * branch2_;
  HammingDistances(descriptor, leaves, static_cast<size_t>(branch2_), dist);
  n = Smallest(dist, branch2_, n, out);
  for (int i = 0; i < n; ++i) out[i] += static_cast<uint32_t>(top * branch2_);
  return n;
}

int VisualVocabulary::TopWords(const Hash256& descriptor, int n, uint32_t* out) const {
  assert(branch1_ > 0 && n >= 1);
  int dist[256];
  HammingDistances(descriptor, top_.data(), top_.size(), dist);
  return Smallest(dist, branch1_, n, out);
}

void VisualVocabulary::WordsAndTopWords(const Hash256& descriptor, int n_words, uint32_t* words,
                                        int n_top, uint32_t* top_words) const {
  assert(branch1_ > 0 && n_words >= 1 && n_top >= 1);
  int dist[256];
  HammingDistances(descriptor, top_.data(), top_.size(), dist);
  // The nearest top-level word, ties to the lowest index, as Nearest.
  const int top = static_cast<int>(std::min_element(dist, dist + branch1_) - dist);
  Smallest(dist, branch1_, n_top, top_words);
  LeafWords(descriptor, top, n_words, words);
}

uint32_t VisualVocabulary::Signature(const Hash256& descriptor) const {
  uint32_t s = 0;
  for (int i = 0; i < kSignatureBits; ++i) {
    s |= static_cast<uint32_t>(descriptor.GetBit(signature_bits_[i])) << i;
  }
  return s;
}

}  // namespace kagami::fingerprint
