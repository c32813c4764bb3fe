#include "kagami/fingerprint/pdq_hasher.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kagami/fingerprint/pdq_kernels.h"
#include "pdq_test_util.h"

namespace kagami::fingerprint {
namespace {

using testing::RandomImage;

struct Transform {
  const char* name;
  Dihedral variant;
  cv::Mat (*apply)(const cv::Mat&);
};

// How the reference's dihedral variants correspond to pixel-domain transforms.
const Transform kTransforms[] = {
    {"rotate 90 counter-clockwise", kRot90,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::rotate(m, r, cv::ROTATE_90_COUNTERCLOCKWISE);
       return r;
     }},
    {"rotate 180", kRot180,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::rotate(m, r, cv::ROTATE_180);
       return r;
     }},
    {"rotate 90 clockwise", kRot270,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::rotate(m, r, cv::ROTATE_90_CLOCKWISE);
       return r;
     }},
    {"upside down", kFlipX,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::flip(m, r, 0);
       return r;
     }},
    {"mirror left-right", kFlipY,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::flip(m, r, 1);
       return r;
     }},
    {"transpose", kFlipPlus1,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::transpose(m, r);
       return r;
     }},
    {"anti-transpose", kFlipMinus1,
     [](const cv::Mat& m) {
       cv::Mat r;
       cv::transpose(m, r);
       cv::rotate(r, r, cv::ROTATE_180);
       return r;
     }},
};

TEST(PdqHasherTest, DihedralVariantsMatchTransformedImages) {
  // 320 = 64 * 5 with an odd box window: the blur and the decimation grid are
  // mirror-symmetric, so transformed images hash (almost) exactly like the
  // DCT-domain variants.
  const cv::Mat img = RandomImage(320, 320, CV_8UC3, 42);
  PdqHasher hasher;
  const PdqDihedralHashes variants = hasher.HashDihedral(img);
  EXPECT_EQ(variants.hashes[kOriginal], hasher.Hash(img).hash);
  for (const Transform& t : kTransforms) {
    const int bits = HammingDistance(hasher.Hash(t.apply(img)).hash, variants.hashes[t.variant]);
    EXPECT_LE(bits, 3) << t.name;
  }
}

TEST(PdqHasherTest, DihedralVariantIsNearestForUnevenShapes) {
  const cv::Mat img = RandomImage(333, 517, CV_8UC3, 43);
  PdqHasher hasher;
  const PdqDihedralHashes variants = hasher.HashDihedral(img);
  for (const Transform& t : kTransforms) {
    const Hash256 h = hasher.Hash(t.apply(img)).hash;
    const int own = HammingDistance(h, variants.hashes[t.variant]);
    EXPECT_LE(own, 32) << t.name;
    for (int v = 0; v < 8; ++v) {
      if (v == t.variant) continue;
      EXPECT_LT(own, HammingDistance(h, variants.hashes[v])) << t.name << " vs variant " << v;
    }
  }
}

TEST(PdqHasherTest, FlatImageHasQualityZeroAndADeterministicHash) {
  PdqHasher hasher;
  for (const int type : {CV_8UC1, CV_8UC3}) {
    for (const cv::Size size : {cv::Size(64, 64), cv::Size(200, 150), cv::Size(900, 1300)}) {
      const cv::Mat flat(size, type, cv::Scalar::all(173));
      const PdqHash a = hasher.Hash(flat);
      EXPECT_EQ(a.quality, 0) << size;
      EXPECT_EQ(hasher.Hash(flat).hash, a.hash);
      EXPECT_EQ(hasher.HashDihedral(flat).quality, 0);
    }
  }
}

TEST(PdqHasherTest, ImagesBelowFivePixelsGiveTheZeroHash) {
  PdqHasher hasher;
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(4, 100), cv::Size(100, 4)}) {
    const cv::Mat img = RandomImage(size.width, size.height, CV_8UC3, 7);
    const PdqHash h = hasher.Hash(img);
    EXPECT_EQ(h.hash, Hash256{}) << size;
    EXPECT_EQ(h.quality, 0);
    const PdqDihedralHashes d = hasher.HashDihedral(img);
    for (const Hash256& v : d.hashes) EXPECT_EQ(v, Hash256{});
  }
  // Side checks apply after the 512x512 resize, as in the reference tool.
  const cv::Mat thin = RandomImage(1000, 3, CV_8UC1, 8);
  const PdqHash h = hasher.Hash(thin);
  EXPECT_EQ(h.hash, testing::RefHash(thin).hash);
  EXPECT_NE(h.hash, Hash256{});
}

TEST(PdqHasherTest, AlphaIsIgnored) {
  const cv::Mat rgb = RandomImage(301, 257, CV_8UC3, 9);
  cv::Mat rgba;
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  std::mt19937 rng(1);
  for (int y = 0; y < rgba.rows; ++y)
    for (int x = 0; x < rgba.cols; ++x) rgba.at<cv::Vec4b>(y, x)[3] = static_cast<uint8_t>(rng());
  PdqHasher hasher;
  const PdqHash a = hasher.Hash(rgb);
  const PdqHash b = hasher.Hash(rgba);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.quality, b.quality);
}

TEST(PdqHasherTest, RegionOfInterestHashesLikeItsCopy) {
  PdqHasher hasher;
  for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4}) {
    for (const cv::Size size : {cv::Size(300, 425), cv::Size(700, 1000)}) {
      const cv::Mat parent = RandomImage(size.width + 20, size.height + 9, type, 10);
      const cv::Mat roi = parent(cv::Rect(13, 9, size.width, size.height));  // ends at the last row
      ASSERT_FALSE(roi.isContinuous());
      EXPECT_EQ(hasher.Hash(roi).hash, hasher.Hash(roi.clone()).hash) << size;
    }
  }
}

TEST(PdqHasherTest, LargeImagesAreResampledNearestNeighbourTo512) {
  const cv::Mat big = RandomImage(1201, 1703, CV_8UC3, 11);
  cv::Mat small(512, 512, CV_8UC3);
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 512; ++x) {
      small.at<cv::Vec3b>(y, x) = big.at<cv::Vec3b>(y * big.rows / 512, x * big.cols / 512);
    }
  }
  PdqHasher hasher;
  const PdqHash a = hasher.Hash(big);
  const PdqHash b = hasher.Hash(small);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.quality, b.quality);
}

TEST(PdqHasherTest, NoStateCarriesOverBetweenCalls) {
  const cv::Mat a = RandomImage(512, 512, CV_8UC1, 12);
  const cv::Mat b = RandomImage(300, 425, CV_8UC3, 13);
  const cv::Mat c = RandomImage(37, 1100, CV_8UC1, 14);
  PdqHasher fresh_a, fresh_b, fresh_c, reused;
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(reused.Hash(a).hash, fresh_a.Hash(a).hash);
    EXPECT_EQ(reused.Hash(b).hash, fresh_b.Hash(b).hash);
    EXPECT_EQ(reused.HashDihedral(c).hashes, fresh_c.HashDihedral(c).hashes);
  }
}

TEST(PdqHasherTest, OneHasherPerThreadGivesTheSameHashes) {
  std::vector<cv::Mat> images;
  for (int i = 0; i < 6; ++i)
    images.push_back(RandomImage(200 + 50 * i, 300 + 31 * i, CV_8UC3, 20 + i));
  std::vector<Hash256> serial;
  PdqHasher hasher;
  for (const cv::Mat& img : images) serial.push_back(hasher.Hash(img).hash);
  std::vector<Hash256> parallel(images.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      PdqHasher own;
      for (size_t i = t; i < images.size(); i += 2) parallel[i] = own.Hash(images[i]).hash;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(parallel, serial);
}

TEST(PdqHasherTest, SmallEditsMoveFewBitsAndOtherImagesMany) {
  const cv::Mat img = RandomImage(400, 560, CV_8UC3, 30);
  cv::Mat noisy = img.clone();
  cv::Mat noise(img.size(), CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(6));
  noisy += noise;
  PdqHasher hasher;
  const PdqHash h = hasher.Hash(img);
  EXPECT_GE(h.quality, 50);
  EXPECT_LE(HammingDistance(h.hash, hasher.Hash(noisy).hash), 16);
  EXPECT_GE(HammingDistance(h.hash, hasher.Hash(RandomImage(400, 560, CV_8UC3, 31)).hash), 64);
}

TEST(PdqMedianTest, EqualsTorbensMedian) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    float values[256];
    std::uniform_int_distribution<int> small(-20, 20);  // many ties
    std::normal_distribution<float> wide(0.0f, 100.0f);
    for (float& v : values) v = trial % 2 == 0 ? static_cast<float>(small(rng)) : wide(rng);
    EXPECT_EQ(pdq::Median256(values), testing::RefTorben(values, 256)) << trial;
  }
  float flat[256];
  std::fill(std::begin(flat), std::end(flat), 3.5f);
  EXPECT_EQ(pdq::Median256(flat), 3.5f);
}

}  // namespace
}  // namespace kagami::fingerprint
