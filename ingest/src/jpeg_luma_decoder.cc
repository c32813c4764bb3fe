#include "jpeg_luma_decoder.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace kagami::ingest::internal {
namespace {

// Huffman lookup tables resolve codes of up to kDcBits / kAcBits bits (and,
// for AC codes, often a whole second symbol) with one load.
constexpr int kDcBits = 9;
constexpr int kDcSize = 1 << kDcBits;
constexpr int kAcBits = 10;
constexpr int kAcSize = 1 << kAcBits;

// How far an AC symbol moves the zigzag index k: run + 1, 16 for ZRL and this
// for end-of-block. After a block's loop k is 64 (filled to position 63),
// >= 129 (end-of-block) or 65..79 (a run past position 63: corrupt).
constexpr int kEobAdvance = 128;

// T.81 Figure A.6: zigzag index -> natural (row-major) index.
constexpr std::array<uint8_t, 64> kZigzagToNatural = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

// Compact blocks hold the coefficient rows a reduced IDCT reads, all 8
// columns each, then a dummy slot that takes every other coefficient and is
// never read. 2x2 (jpeg_idct_2x2): rows 0,1,3,5,7 in slots 0..39. 4x4
// (jpeg_idct_4x4): rows 0,1,2,3,5,6,7 in slots 0..55.
constexpr int CompactRows(int out) { return out == 2 ? 5 : 7; }
constexpr int DummySlot(int out) { return CompactRows(out) * 8; }

constexpr std::array<int, 8> kRowSlot2 = {0, 1, -1, 2, -1, 3, -1, 4};
constexpr std::array<int, 8> kRowSlot4 = {0, 1, 2, 3, -1, 4, 5, 6};

constexpr int CompactSlot(int out, int natural) {
  int row = natural / 8;
  int slot = out == 2 ? kRowSlot2[row] : kRowSlot4[row];
  return slot < 0 ? DummySlot(out) : slot * 8 + natural % 8;
}

// Indexed by k + run (plus the ValuePair offsets), which stays below 192.
constexpr std::array<uint8_t, 256> MakeZigzagToSlot(int out) {
  std::array<uint8_t, 256> table{};
  for (int k = 0; k < 256; ++k) {
    table[k] =
        static_cast<uint8_t>(k < 64 ? CompactSlot(out, kZigzagToNatural[k]) : DummySlot(out));
  }
  return table;
}
constexpr std::array<uint8_t, 256> kZigzagToSlot2 = MakeZigzagToSlot(2);
constexpr std::array<uint8_t, 256> kZigzagToSlot4 = MakeZigzagToSlot(4);

// libjpeg's post-IDCT range limit (jdmaster.c prepare_range_limit_table),
// indexed by value & 1023: -128..127 -> 0..255, 128..511 -> 255,
// -512..-129 -> 0, larger magnitudes wrap around.
constexpr std::array<uint8_t, 1024> MakeRangeLimit() {
  std::array<uint8_t, 1024> table{};
  for (int t = 0; t < 1024; ++t) {
    int v = t < 128 ? t + 128 : t < 512 ? 255 : t < 896 ? 0 : t - 896;
    table[t] = static_cast<uint8_t>(v);
  }
  return table;
}
constexpr std::array<uint8_t, 1024> kRangeLimit = MakeRangeLimit();

uint32_t Be16(const unsigned char* p) { return (uint32_t{p[0]} << 8) | p[1]; }

// One or two AC symbols decoded from kAcBits peeked bits, for blocks whose
// zigzag index k is below kPairLimit (so that a second symbol always belongs
// to the same block). The first coefficient (code_length1, size1: its
// magnitude is read from the stream) goes to zigzag position k + run1; the
// second (value2, whole within the peeked bits) to k + run1 + advance2 and
// then k = k + run1 + 1 + advance2. A single symbol has advance2 = 0 and
// value2 = 0 (stored first, to the first symbol's position); an end-of-block
// second symbol has advance2 = kEobAdvance. length 0: a longer code.
constexpr int kPairLimit = 48;
struct ValuePair {
  uint8_t length = 0;  // bits consumed
  uint8_t code_length1 = 0;
  uint8_t size1 = 0;
  uint8_t run1 = 0;
  uint8_t advance2 = 0;
  uint8_t unused = 0;
  int16_t value2 = 0;
};

// A canonical Huffman code (T.81 Annex C) from a DHT table, with what
// Figure F.16 decoding needs in libjpeg's form: limit[l] is one past the last
// code of length <= l, left-justified to 16 bits, so a code's length is the
// first l with top16 < limit[l].
struct HuffCodes {
  std::array<uint32_t, 17> limit;
  std::array<int32_t, 17> valoffset;
  std::array<uint8_t, 256> symbols;
  std::array<uint16_t, 256> code;  // per symbol index
  std::array<uint8_t, 256> length;
  int num_symbols;
};

// Lookup-table entries, for codes of at most the table's bits (0: longer):
//   value: (code_length + size) | code_length << 8 | run << 16 | size << 24,
//     run = kEobAdvance - 1 for end-of-block (ZRL: run 15, size 0; DC: run 0).
//   skip: (code_length + size) | advance << 6 (advance 0 for DC).
//   skip_pair: one or two whole symbols: length | advance << 8 |
//     first_advance << 16 | first_length << 24, where first_* describe the
//     first symbol alone and first_advance is 0 for a single symbol. The
//     second symbol belongs to the block only if k + first_advance < 64.
struct DcLut {
  HuffCodes codes;
  std::array<uint32_t, kDcSize> value;
  std::array<uint16_t, kDcSize> skip;
};
struct AcLut {
  HuffCodes codes;
  std::array<uint32_t, kAcSize> value;
  std::array<ValuePair, kAcSize> value_pair;
  std::array<uint16_t, kAcSize> skip;
  std::array<uint32_t, kAcSize> skip_pair;
};
// All tables of a scan, allocated once per image without zero-filling; only
// those the scan uses are built.
struct Tables {
  std::array<DcLut, 4> dc;
  std::array<AcLut, 4> ac;
};

constexpr int AcAdvance(int run, int size) {
  // libjpeg: size 0 ends the block unless run is 15 (ZRL).
  return size != 0 ? run + 1 : run == 15 ? 16 : kEobAdvance;
}

constexpr uint32_t ValueEntry(int code_length, int symbol, bool is_dc) {
  int size = is_dc ? symbol : symbol & 15;
  int run_field = is_dc ? 0 : AcAdvance(symbol >> 4, size) - 1;
  return static_cast<uint32_t>((code_length + size) | (code_length << 8) | (run_field << 16) |
                               (size << 24));
}

constexpr uint16_t SkipEntry(int code_length, int symbol, bool is_dc) {
  int size = is_dc ? symbol : symbol & 15;
  int advance = is_dc ? 0 : AcAdvance(symbol >> 4, size);
  return static_cast<uint16_t>((code_length + size) | (advance << 6));
}

constexpr uint32_t PairEntry(int length, int advance, int first_advance, int first_length) {
  return static_cast<uint32_t>(length | (advance << 8) | (first_advance << 16) |
                               (first_length << 24));
}

// False where libjpeg would refuse the table (jdhuff.c jpeg_make_d_derived_tbl:
// over-subscribed code lengths, a DC category above 15).
bool BuildCodes(const std::array<uint8_t, 17>& counts, const std::array<uint8_t, 256>& symbols,
                bool is_dc, HuffCodes* codes) {
  int n = 0;
  uint32_t code = 0;
  for (int l = 1; l <= 16; ++l) {
    codes->valoffset[l] = n - static_cast<int32_t>(code);
    for (int i = 0; i < counts[l]; ++i) {
      if (n >= 256 || (is_dc && symbols[n] > 15)) return false;
      codes->code[n] = static_cast<uint16_t>(code);
      codes->length[n] = static_cast<uint8_t>(l);
      ++n;
      ++code;
    }
    if (code >= (1u << l)) return false;
    codes->limit[l] = code << (16 - l);
    code <<= 1;
  }
  codes->symbols = symbols;
  codes->num_symbols = n;
  return true;
}

// Fills table[w] for every `bits`-bit w that starts with a code of at most
// `bits` bits with make(code_length, symbol), and the rest with 0.
template <typename T, size_t N, typename Make>
void FillTable(const HuffCodes& codes, int bits, std::array<T, N>* table, Make make) {
  std::fill(table->begin(), table->end(), T{});
  for (int i = 0; i < codes.num_symbols; ++i) {
    int l = codes.length[i];
    if (l > bits) break;  // symbols are in code-length order
    std::fill_n(table->begin() + (codes.code[i] << (bits - l)), 1 << (bits - l),
                make(l, codes.symbols[i]));
  }
}

void BuildDcLut(DcLut* lut) {
  FillTable(lut->codes, kDcBits, &lut->value, [](int l, int s) { return ValueEntry(l, s, true); });
  FillTable(lut->codes, kDcBits, &lut->skip, [](int l, int s) { return SkipEntry(l, s, true); });
}

// The magnitude of a symbol (`value` entry) whose bits all lie within
// `window` (kAcBits bits, right-aligned), starting `offset` bits in.
int16_t WindowValue(uint32_t window, uint32_t entry, int offset) {
  int code_length = static_cast<int>((entry >> 8) & 0xFF);
  int size = static_cast<int>(entry >> 24);
  if (size == 0) return 0;
  uint32_t raw = (window >> (kAcBits - offset - code_length - size)) & ((1u << size) - 1);
  int32_t value = raw < (1u << (size - 1)) ? static_cast<int32_t>(raw) + 1 - (1 << size)
                                           : static_cast<int32_t>(raw);
  return static_cast<int16_t>(value);
}

// A ValuePair holding the single symbol of a `value` entry, its magnitude
// bits read from the stream.
ValuePair SingleValuePair(uint32_t entry) {
  ValuePair pair;
  pair.length = static_cast<uint8_t>(entry & 0xFF);
  pair.code_length1 = static_cast<uint8_t>((entry >> 8) & 0xFF);
  pair.run1 = static_cast<uint8_t>((entry >> 16) & 0xFF);
  pair.size1 = static_cast<uint8_t>(entry >> 24);
  return pair;
}

// `value` and `value_pair`, for blocks whose coefficients are needed.
void BuildAcValueLut(AcLut* lut) {
  FillTable(lut->codes, kAcBits, &lut->value, [](int l, int s) { return ValueEntry(l, s, false); });
  for (int w = 0; w < kAcSize; ++w) {
    uint32_t first = lut->value[w];
    ValuePair& pair = lut->value_pair[w];
    pair = first == 0 ? ValuePair() : SingleValuePair(first);
    int length1 = static_cast<int>(first & 0xFF);
    int run1 = static_cast<int>((first >> 16) & 0xFF);
    if (first == 0 || run1 == kEobAdvance - 1 || length1 >= kAcBits) continue;
    uint32_t second = lut->value[(w << length1) & (kAcSize - 1)];
    int length2 = static_cast<int>(second & 0xFF);
    if (second == 0 || length1 + length2 > kAcBits) continue;
    int run2 = static_cast<int>((second >> 16) & 0xFF);
    pair.length = static_cast<uint8_t>(length1 + length2);
    pair.advance2 = static_cast<uint8_t>(run2 == kEobAdvance - 1 ? kEobAdvance : run2 + 1);
    pair.value2 = WindowValue(static_cast<uint32_t>(w), second, length1);
  }
}

// `skip` and `skip_pair`, for blocks whose coefficients are dropped.
void BuildAcSkipLut(AcLut* lut) {
  FillTable(lut->codes, kAcBits, &lut->skip, [](int l, int s) { return SkipEntry(l, s, false); });
  for (int w = 0; w < kAcSize; ++w) {
    uint32_t first = lut->skip[w];
    int length1 = static_cast<int>(first & 63);
    int advance1 = static_cast<int>(first >> 6);
    uint32_t entry = first == 0 ? 0 : PairEntry(length1, advance1, 0, length1);
    if (first != 0 && advance1 != kEobAdvance && length1 < kAcBits) {
      uint32_t second = lut->skip[(w << length1) & (kAcSize - 1)];
      int length2 = static_cast<int>(second & 63);
      if (second != 0 && length1 + length2 <= kAcBits) {
        entry = PairEntry(length1 + length2, advance1 + static_cast<int>(second >> 6), advance1,
                          length1);
      }
    }
    lut->skip_pair[w] = entry;
  }
}

// Decodes a code longer than the lookup tables' bits from the top 16 bits of
// `buf`: the symbol, with its length in *length, or -1 for an invalid code.
inline int DecodeLong(const HuffCodes& codes, uint64_t buf, int* length) {
  constexpr int kShortest = kDcBits + 1;  // no table resolves fewer bits
  uint32_t top = static_cast<uint32_t>(buf >> 48);
  int l = kShortest;
  for (int i = kShortest; i <= 16; ++i) l += top >= codes.limit[i] ? 1 : 0;
  if (l > 16) return -1;
  *length = l;
  return codes.symbols[(codes.valoffset[l] + static_cast<int32_t>(top >> (16 - l))) & 0xFF];
}

// The `value` / `skip` entry of a longer code; 0 if invalid.
[[gnu::noinline]] uint32_t LongValueEntry(const HuffCodes& codes, uint64_t buf, bool is_dc) {
  int length;
  int sym = DecodeLong(codes, buf, &length);
  return sym < 0 ? 0 : ValueEntry(length, sym, is_dc);
}
[[gnu::noinline]] uint32_t LongSkipEntry(const HuffCodes& codes, uint64_t buf, bool is_dc) {
  int length;
  int sym = DecodeLong(codes, buf, &length);
  return sym < 0 ? 0 : SkipEntry(length, sym, is_dc);
}

// Bit reader over one entropy-coded segment (T.81 F.2.2.5, B.1.1.5 byte
// stuffing). Once the data stops at a marker (or the end of the buffer) it
// supplies zero bits and counts them in `padding`; consuming any of them
// means the segment was truncated.
struct BitReader {
  uint64_t buf;  // upcoming bits, most significant first
  int bits;      // valid bits in buf, 0..64
  int padding;   // trailing zero bits of buf that are not data
  const uint8_t* pos;
  const uint8_t* end;
  const uint8_t* marker;  // where the data stopped, or nullptr
};

inline uint64_t LoadBe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_bswap64(v);
}

inline bool HasFFByte(uint64_t w) {
  uint64_t x = ~w;
  return ((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) != 0;
}

[[gnu::noinline]] void RefillSlow(BitReader& br) {
  // Bits below `bits` may hold look-ahead from the fast path; clear them.
  br.buf = br.bits == 0 ? 0 : br.buf & (~uint64_t{0} << (64 - br.bits));
  while (br.bits <= 56) {
    if (br.marker != nullptr) {
      br.padding += 64 - br.bits;
      br.bits = 64;
      return;
    }
    if (br.pos >= br.end) {
      br.marker = br.end;
      continue;
    }
    uint8_t c = *br.pos;
    if (c == 0xFF) {
      // libjpeg accepts FF FF ... 00 as one FF data byte.
      const uint8_t* q = br.pos + 1;
      while (q < br.end && *q == 0xFF) ++q;
      if (q < br.end && *q == 0x00) {
        br.pos = q + 1;
      } else {
        br.marker = br.pos;
        continue;
      }
    } else {
      ++br.pos;
    }
    br.buf |= uint64_t{c} << (56 - br.bits);
    br.bits += 8;
  }
}

// Leaves at least 56 bits in the buffer. Call when bits < 32.
[[gnu::always_inline]] inline void Refill(BitReader& br) {
  if (br.end - br.pos >= 8) [[likely]] {
    uint64_t w = LoadBe64(br.pos);
    if (!HasFFByte(w)) [[likely]] {
      // Bits below `bits` are zero or the same stream bits (from the previous
      // load), so OR-ing is exact.
      br.buf |= w >> br.bits;
      int n = (63 - br.bits) >> 3;
      br.pos += n;
      br.bits += n * 8;
      return;
    }
  }
  BitReader copy = br;  // keeps `br` itself out of memory in the callers
  RefillSlow(copy);
  br = copy;
}

inline void Consume(BitReader& br, int n) {
  br.buf <<= n;
  br.bits -= n;
}

// RECEIVE + EXTEND (T.81 F.2.2.1) of the `size` magnitude bits that follow
// the first `offset` bits of `buf` (0 when size is 0).
[[gnu::always_inline]] inline int32_t MagnitudeAt(uint64_t buf, int offset, int size) {
  uint64_t rest = buf << offset;
  uint32_t raw = static_cast<uint32_t>((rest >> 32) >> (32 - size));
  // A leading 0 bit means a negative value, raw - (2^size - 1).
  int32_t negative = ~static_cast<int32_t>(static_cast<int64_t>(rest) >> 63);
  return static_cast<int32_t>(raw) + ((1 - (1 << size)) & negative);
}

// Consumes one coded value (T.81 F.2.2.1 DECODE + RECEIVE/EXTEND) described by
// a `value` entry; returns the extended magnitude (0 when size is 0).
[[gnu::always_inline]] inline int32_t TakeValue(BitReader& br, uint32_t e) {
  int32_t value = MagnitudeAt(br.buf, static_cast<int>((e >> 8) & 0xFF), static_cast<int>(e >> 24));
  Consume(br, static_cast<int>(e & 0xFF));
  return value;
}

// DC difference (T.81 F.2.2.1). False on an invalid code.
[[gnu::always_inline]] inline bool DecodeDc(BitReader& br, const DcLut& lut, int32_t* diff) {
  if (br.bits < 32) Refill(br);
  uint32_t e = lut.value[br.buf >> (64 - kDcBits)];
  if (e == 0) [[unlikely]] {
    e = LongValueEntry(lut.codes, br.buf, true);
    if (e == 0) return false;
  }
  *diff = TakeValue(br, e);
  return true;
}

[[gnu::always_inline]] inline bool SkipDc(BitReader& br, const DcLut& lut) {
  if (br.bits < 32) Refill(br);
  uint32_t e = lut.skip[br.buf >> (64 - kDcBits)];
  if (e == 0) [[unlikely]] {
    e = LongSkipEntry(lut.codes, br.buf, true);
    if (e == 0) return false;
  }
  Consume(br, static_cast<int>(e & 63));
  return true;
}

// AC coefficients of a block whose values are not needed (T.81 F.2.2.2).
[[gnu::always_inline]] inline bool SkipAc(BitReader& br, const AcLut& lut) {
  int k = 1;
  do {
    if (br.bits < 32) Refill(br);
    uint32_t e = lut.skip_pair[br.buf >> (64 - kAcBits)];
    if (e == 0) [[unlikely]] {
      uint32_t single = LongSkipEntry(lut.codes, br.buf, false);
      if (single == 0) return false;
      e = PairEntry(static_cast<int>(single & 63), static_cast<int>(single >> 6), 0,
                    static_cast<int>(single & 63));
    }
    int first_advance = static_cast<int>((e >> 16) & 0xFF);
    bool both = k + first_advance < 64;
    int length = both ? static_cast<int>(e & 0xFF) : static_cast<int>(e >> 24);
    int advance = both ? static_cast<int>((e >> 8) & 0xFF) : first_advance;
    Consume(br, length);
    k += advance;
  } while (k < 64);
  return k == 64 || k > kEobAdvance;
}

// The result of DecodeAcCompact for a block whose first AC symbol is EOB.
constexpr int kOnlyDc = kEobAdvance + 1;

// AC coefficients into a compact block (T.81 F.2.2.2); coefficients the
// reduced IDCT does not read go to the dummy slot. Returns the final zigzag index:
// kOnlyDc (nothing stored but in the dummy slot), 64 or above kOnlyDc, or
// -1 when the data is invalid.
[[gnu::always_inline]] inline int DecodeAcCompact(BitReader& br, const AcLut& lut,
                                                  const uint8_t* zigzag_to_slot, int16_t* block) {
  int k = 1;
  while (k < kPairLimit) {
    if (br.bits < 32) Refill(br);
    const ValuePair* e = &lut.value_pair[br.buf >> (64 - kAcBits)];
    ValuePair long_code;
    if (e->length == 0) [[unlikely]] {
      uint32_t single = LongValueEntry(lut.codes, br.buf, false);
      if (single == 0) return -1;
      long_code = SingleValuePair(single);
      e = &long_code;
    }
    int pos1 = k + e->run1;
    int base2 = pos1 + 1;
    block[zigzag_to_slot[base2 + e->advance2 - 1]] = e->value2;
    block[zigzag_to_slot[pos1]] =
        static_cast<int16_t>(MagnitudeAt(br.buf, e->code_length1, e->size1));
    k = base2 + e->advance2;
    Consume(br, e->length);
  }
  while (k < 64) {
    if (br.bits < 32) Refill(br);
    uint32_t e = lut.value[br.buf >> (64 - kAcBits)];
    if (e == 0) [[unlikely]] {
      e = LongValueEntry(lut.codes, br.buf, false);
      if (e == 0) return -1;
    }
    int pos = k + static_cast<int>((e >> 16) & 0xFF);
    block[zigzag_to_slot[pos]] = static_cast<int16_t>(TakeValue(br, e));
    k = pos + 1;
  }
  return k == 64 || k > kEobAdvance ? k : -1;
}

int16_t Saturate16(int32_t v) {
  return static_cast<int16_t>(std::clamp<int32_t>(v, INT16_MIN, INT16_MAX));
}

int32_t Wrap32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

uint8_t ClampPixel(int32_t v) {
  return static_cast<uint8_t>(std::clamp<int32_t>(v, -128, 127) + 128);
}

// pmullw: 16-bit dequantisation, keeping the low half of the product.
int32_t Dequantize(int16_t coef, int16_t quant) {
  return static_cast<int16_t>(static_cast<uint16_t>(coef * quant));
}

// Constants of jidctred.c (CONST_BITS 13).
constexpr int32_t kF0211 = 1730;   // FIX(0.211164243)
constexpr int32_t kF0509 = 4176;   // FIX(0.509795579)
constexpr int32_t kF0601 = 4926;   // FIX(0.601344887)
constexpr int32_t kF0720 = 5906;   // FIX(0.720959822)
constexpr int32_t kF0765 = 6270;   // FIX(0.765366865)
constexpr int32_t kF0850 = 6967;   // FIX(0.850430095)
constexpr int32_t kF0899 = 7373;   // FIX(0.899976223)
constexpr int32_t kF1061 = 8697;   // FIX(1.061594337)
constexpr int32_t kF1272 = 10426;  // FIX(1.272758580)
constexpr int32_t kF1451 = 11893;  // FIX(1.451774981)
constexpr int32_t kF1847 = 15137;  // FIX(1.847759065)
constexpr int32_t kF2172 = 17799;  // FIX(2.172734803)
constexpr int32_t kF2562 = 20995;  // FIX(2.562915447)
constexpr int32_t kF3624 = 29692;  // FIX(3.624509785)

// The scalar references below compute what jsimd_idct_2x2_sse2 and
// jsimd_idct_4x4_sse2 compute: exact 16x16-bit products summed in 32 bits
// with wrap-around, 16-bit saturation between the passes, and output clamped
// to -128..127 before the +128 level shift.

// One output row of the 2x2 pass 2.
void Idct2x2Row(int32_t x0, int32_t x1, int32_t x3, int32_t x5, int32_t x7, uint8_t* out) {
  int32_t tmp0 = Saturate16(x1) * kF3624 - Saturate16(x3) * kF1272 + Saturate16(x5) * kF0850 -
                 Saturate16(x7) * kF0720;
  int32_t tmp10 = Wrap32(static_cast<int64_t>(static_cast<uint32_t>(x0)) << 15);
  out[0] = ClampPixel(Wrap32(int64_t{tmp10} + tmp0 + (1 << 19)) >> 20);
  out[1] = ClampPixel(Wrap32(int64_t{tmp10} - tmp0 + (1 << 19)) >> 20);
}

void Idct2x2ReferenceStore(const int16_t* coef, const int16_t* quant, uint8_t* out,
                           ptrdiff_t stride) {
  auto d = [&](int slot) { return Dequantize(coef[slot], quant[slot]); };
  int32_t top[8] = {};
  int32_t bottom[8] = {};
  for (int c : {0, 1, 3, 5, 7}) {
    int32_t tmp0 = d(8 + c) * kF3624 - d(16 + c) * kF1272 + d(24 + c) * kF0850 - d(32 + c) * kF0720;
    int32_t tmp10 = d(c) * 32768;
    top[c] = Wrap32(int64_t{tmp10} + tmp0 + 4096) >> 13;
    bottom[c] = Wrap32(int64_t{tmp10} - tmp0 + 4096) >> 13;
  }
  Idct2x2Row(top[0], top[1], top[3], top[5], top[7], out);
  Idct2x2Row(bottom[0], bottom[1], bottom[3], bottom[5], bottom[7], out + stride);
}

// A 2x2 block with no AC coefficient: all four pixels equal.
uint8_t Idct2x2DcOnly(int16_t dc, int16_t q) {
  int32_t a = (Dequantize(dc, q) * 32768 + 4096) >> 13;
  int32_t tmp10 = Wrap32(static_cast<int64_t>(static_cast<uint32_t>(a)) << 15);
  return ClampPixel(Wrap32(int64_t{tmp10} + (1 << 19)) >> 20);
}

// One 4-point column or row of jpeg_idct_4x4 (input x0..x7, x4 unused) with
// the final rounding shift `shift`; out[0..3] before saturation.
void Idct4Points(const int32_t* x, int shift, int32_t* out) {
  int32_t tmp0 = x[0] * (1 << 14);
  int32_t tmp2 = x[2] * kF1847 - x[6] * kF0765;
  int32_t tmp10 = tmp0 + tmp2;
  int32_t tmp12 = tmp0 - tmp2;
  int32_t odd2 = x[1] * kF2562 + x[3] * kF0899 - x[5] * kF0601 - x[7] * kF0509;
  int32_t odd0 = x[1] * kF1061 - x[3] * kF2172 + x[5] * kF1451 - x[7] * kF0211;
  int64_t round = int64_t{1} << (shift - 1);
  out[0] = Wrap32(int64_t{tmp10} + odd2 + round) >> shift;
  out[3] = Wrap32(int64_t{tmp10} - odd2 + round) >> shift;
  out[1] = Wrap32(int64_t{tmp12} + odd0 + round) >> shift;
  out[2] = Wrap32(int64_t{tmp12} - odd0 + round) >> shift;
}

void Idct4x4ReferenceStore(const int16_t* coef, const int16_t* quant, uint8_t* out,
                           ptrdiff_t stride) {
  auto slot = [](int row, int col) { return (row < 4 ? row : row - 1) * 8 + col; };
  // The SSE2 code skips pass 1's arithmetic when rows 1,2,3,5,6,7 hold no
  // coefficient (column 4 included), shifting row 0 left by 2 in 16 bits.
  bool ac_rows_zero = true;
  for (int i = 8; i < 56; ++i) ac_rows_zero = ac_rows_zero && coef[i] == 0;
  int16_t ws[4][8];
  for (int c = 0; c < 8; ++c) {
    if (ac_rows_zero) {
      int16_t v = static_cast<int16_t>(
          static_cast<uint16_t>(static_cast<uint16_t>(Dequantize(coef[c], quant[c])) << 2));
      for (auto& row : ws) row[c] = v;
      continue;
    }
    int32_t x[8] = {};
    for (int r : {0, 1, 2, 3, 5, 6, 7}) x[r] = Dequantize(coef[slot(r, c)], quant[slot(r, c)]);
    int32_t column[4];
    Idct4Points(x, 12, column);
    for (int r = 0; r < 4; ++r) ws[r][c] = Saturate16(column[r]);
  }
  for (int r = 0; r < 4; ++r) {
    int32_t x[8];
    for (int c = 0; c < 8; ++c) x[c] = ws[r][c];
    int32_t pixels[4];
    Idct4Points(x, 19, pixels);
    for (int c = 0; c < 4; ++c) out[r * stride + c] = ClampPixel(Saturate16(pixels[c]));
  }
}

// A 4x4 block with no AC coefficient: all sixteen pixels equal.
uint8_t Idct4x4DcOnly(int16_t dc, int16_t q) {
  int16_t v =
      static_cast<int16_t>(static_cast<uint16_t>(static_cast<uint16_t>(Dequantize(dc, q)) << 2));
  return ClampPixel((int32_t{v} * (1 << 14) + (1 << 18)) >> 19);
}

#if defined(__SSE2__)
inline __m128i PairConstant(int32_t lo, int32_t hi) {
  return _mm_set1_epi32(static_cast<int32_t>(
      (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16) | static_cast<uint16_t>(lo)));
}

// The arithmetic of libjpeg-turbo's jsimd_idct_2x2_sse2, step for step.
inline void Idct2x2Store(const int16_t* coef, const int16_t* quant, uint8_t* out,
                         ptrdiff_t stride) {
  const __m128i* c = reinterpret_cast<const __m128i*>(coef);
  const __m128i* q = reinterpret_cast<const __m128i*>(quant);
  const __m128i f362_m127 = PairConstant(kF3624, -kF1272);
  const __m128i f085_m072 = PairConstant(kF0850, -kF0720);
  __m128i row0 = _mm_mullo_epi16(_mm_load_si128(c + 0), _mm_load_si128(q + 0));
  __m128i row1 = _mm_mullo_epi16(_mm_load_si128(c + 1), _mm_load_si128(q + 1));
  __m128i row3 = _mm_mullo_epi16(_mm_load_si128(c + 2), _mm_load_si128(q + 2));
  __m128i row5 = _mm_mullo_epi16(_mm_load_si128(c + 3), _mm_load_si128(q + 3));
  __m128i row7 = _mm_mullo_epi16(_mm_load_si128(c + 4), _mm_load_si128(q + 4));
  const __m128i high_words = _mm_slli_epi32(_mm_cmpeq_epi32(row0, row0), 16);

  // Pass 1, odd part: column 0 (lane 0) and columns 1,3,5,7.
  __m128i odd_col0 = _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(row1, row3), f362_m127),
                                   _mm_madd_epi16(_mm_unpacklo_epi16(row5, row7), f085_m072));
  __m128i odd13 = _mm_or_si128(_mm_srli_epi32(row1, 16), _mm_and_si128(row3, high_words));
  __m128i odd57 = _mm_or_si128(_mm_srli_epi32(row5, 16), _mm_and_si128(row7, high_words));
  __m128i odd_cols =
      _mm_add_epi32(_mm_madd_epi16(odd13, f362_m127), _mm_madd_epi16(odd57, f085_m072));
  // Even part: row 0 << 15, even columns (lane 0 = column 0) and odd columns.
  __m128i even_col0 = _mm_srai_epi32(_mm_slli_epi32(row0, 16), 1);
  __m128i even_cols = _mm_srai_epi32(_mm_and_si128(row0, high_words), 1);

  const __m128i round1 = _mm_set1_epi32(1 << 12);
  __m128i a0 = _mm_add_epi32(even_col0, odd_col0);
  __m128i b0 = _mm_sub_epi32(even_col0, odd_col0);
  __m128i a_odd = _mm_add_epi32(even_cols, odd_cols);  // A1 A3 A5 A7
  __m128i b_odd = _mm_sub_epi32(even_cols, odd_cols);  // B1 B3 B5 B7
  __m128i ab0 = _mm_srai_epi32(_mm_add_epi32(_mm_unpacklo_epi32(a0, b0), round1), 13);
  __m128i ab13 = _mm_srai_epi32(_mm_add_epi32(_mm_unpacklo_epi64(a_odd, b_odd), round1), 13);
  __m128i ab57 = _mm_srai_epi32(_mm_add_epi32(_mm_unpackhi_epi64(a_odd, b_odd), round1), 13);

  // Pass 2.
  __m128i tmp0 = _mm_add_epi32(_mm_madd_epi16(_mm_packs_epi32(ab13, ab13), f362_m127),
                               _mm_madd_epi16(_mm_packs_epi32(ab57, ab57), f085_m072));
  __m128i tmp10 = _mm_slli_epi32(ab0, 15);
  __m128i left = _mm_add_epi32(tmp10, tmp0);
  __m128i right = _mm_sub_epi32(tmp10, tmp0);
  __m128i pixels =
      _mm_srai_epi32(_mm_add_epi32(_mm_unpacklo_epi32(left, right), _mm_set1_epi32(1 << 19)), 20);
  pixels = _mm_packs_epi32(pixels, pixels);
  pixels = _mm_packs_epi16(pixels, pixels);
  pixels = _mm_add_epi8(pixels, _mm_set1_epi8(static_cast<char>(0x80)));
  uint32_t packed = static_cast<uint32_t>(_mm_cvtsi128_si32(pixels));
  out[0] = static_cast<uint8_t>(packed);
  out[1] = static_cast<uint8_t>(packed >> 8);
  out[stride] = static_cast<uint8_t>(packed >> 16);
  out[stride + 1] = static_cast<uint8_t>(packed >> 24);
}

// jpeg_idct_4x4's four outputs for 4 lanes at once, from (x1,x3), (x5,x7)
// and (x2,x6) interleaved 16-bit pairs and tmp0 = x0 << 14 (32-bit lanes).
struct Idct4Lanes {
  __m128i out0, out1, out2, out3;
};
inline Idct4Lanes Idct4Sse2(__m128i x13, __m128i x57, __m128i x26, __m128i tmp0, int shift) {
  __m128i odd2 = _mm_add_epi32(_mm_madd_epi16(x13, PairConstant(kF2562, kF0899)),
                               _mm_madd_epi16(x57, PairConstant(-kF0601, -kF0509)));
  __m128i odd0 = _mm_add_epi32(_mm_madd_epi16(x13, PairConstant(kF1061, -kF2172)),
                               _mm_madd_epi16(x57, PairConstant(kF1451, -kF0211)));
  __m128i tmp2 = _mm_madd_epi16(x26, PairConstant(kF1847, -kF0765));
  __m128i tmp10 = _mm_add_epi32(tmp0, tmp2);
  __m128i tmp12 = _mm_sub_epi32(tmp0, tmp2);
  const __m128i round = _mm_set1_epi32(1 << (shift - 1));
  const __m128i count = _mm_cvtsi32_si128(shift);
  auto descale = [&](__m128i v) { return _mm_sra_epi32(_mm_add_epi32(v, round), count); };
  return {descale(_mm_add_epi32(tmp10, odd2)), descale(_mm_add_epi32(tmp12, odd0)),
          descale(_mm_sub_epi32(tmp12, odd0)), descale(_mm_sub_epi32(tmp10, odd2))};
}

// The arithmetic of libjpeg-turbo's jsimd_idct_4x4_sse2.
inline void Idct4x4Store(const int16_t* coef, const int16_t* quant, uint8_t* out,
                         ptrdiff_t stride) {
  const __m128i* c = reinterpret_cast<const __m128i*>(coef);
  const __m128i* q = reinterpret_cast<const __m128i*>(quant);
  const __m128i zero = _mm_setzero_si128();
  __m128i ac = _mm_or_si128(_mm_or_si128(_mm_load_si128(c + 1), _mm_load_si128(c + 2)),
                            _mm_or_si128(_mm_load_si128(c + 3), _mm_load_si128(c + 4)));
  ac = _mm_or_si128(ac, _mm_or_si128(_mm_load_si128(c + 5), _mm_load_si128(c + 6)));
  __m128i ws0, ws1, ws2, ws3;  // pass 1 output rows 0..3, 8 columns each
  if (_mm_movemask_epi8(_mm_cmpeq_epi8(ac, zero)) == 0xFFFF) {
    ws0 = _mm_slli_epi16(_mm_mullo_epi16(_mm_load_si128(c), _mm_load_si128(q)), 2);
    ws1 = ws2 = ws3 = ws0;
  } else {
    __m128i d[7];
    for (int r = 0; r < 7; ++r)
      d[r] = _mm_mullo_epi16(_mm_load_si128(c + r), _mm_load_si128(q + r));
    // d: rows 0,1,2,3,5,6,7.
    Idct4Lanes lo = Idct4Sse2(_mm_unpacklo_epi16(d[1], d[3]), _mm_unpacklo_epi16(d[4], d[6]),
                              _mm_unpacklo_epi16(d[2], d[5]),
                              _mm_srai_epi32(_mm_unpacklo_epi16(zero, d[0]), 2), 12);
    Idct4Lanes hi = Idct4Sse2(_mm_unpackhi_epi16(d[1], d[3]), _mm_unpackhi_epi16(d[4], d[6]),
                              _mm_unpackhi_epi16(d[2], d[5]),
                              _mm_srai_epi32(_mm_unpackhi_epi16(zero, d[0]), 2), 12);
    ws0 = _mm_packs_epi32(lo.out0, hi.out0);
    ws1 = _mm_packs_epi32(lo.out1, hi.out1);
    ws2 = _mm_packs_epi32(lo.out2, hi.out2);
    ws3 = _mm_packs_epi32(lo.out3, hi.out3);
  }
  // Transpose to columns: colAB holds column A rows 0..3, then column B.
  __m128i t0 = _mm_unpacklo_epi16(ws0, ws1);
  __m128i t1 = _mm_unpackhi_epi16(ws0, ws1);
  __m128i t2 = _mm_unpacklo_epi16(ws2, ws3);
  __m128i t3 = _mm_unpackhi_epi16(ws2, ws3);
  __m128i col01 = _mm_unpacklo_epi32(t0, t2);
  __m128i col23 = _mm_unpackhi_epi32(t0, t2);
  __m128i col45 = _mm_unpacklo_epi32(t1, t3);
  __m128i col67 = _mm_unpackhi_epi32(t1, t3);
  // Pass 2: one lane per output row.
  Idct4Lanes px = Idct4Sse2(_mm_unpackhi_epi16(col01, col23), _mm_unpackhi_epi16(col45, col67),
                            _mm_unpacklo_epi16(col23, col67),
                            _mm_srai_epi32(_mm_unpacklo_epi16(zero, col01), 2), 19);
  __m128i p02 = _mm_packs_epi32(px.out0, px.out2);  // column 0 rows 0..3, column 2 rows 0..3
  __m128i p13 = _mm_packs_epi32(px.out1, px.out3);
  __m128i lo = _mm_unpacklo_epi16(p02, p13);  // (0,0) (0,1) (1,0) (1,1) ... as (row, column)
  __m128i hi = _mm_unpackhi_epi16(p02, p13);  // (0,2) (0,3) (1,2) (1,3) ...
  __m128i rows01 = _mm_unpacklo_epi32(lo, hi);
  __m128i rows23 = _mm_unpackhi_epi32(lo, hi);
  __m128i bytes =
      _mm_add_epi8(_mm_packs_epi16(rows01, rows23), _mm_set1_epi8(static_cast<char>(0x80)));
  alignas(16) uint8_t pixels[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(pixels), bytes);
  for (int r = 0; r < 4; ++r) std::memcpy(out + r * stride, pixels + 4 * r, 4);
}

inline void ZeroCompact(int16_t* block, int rows) {
  __m128i* b = reinterpret_cast<__m128i*>(block);
  for (int i = 0; i < rows; ++i) _mm_store_si128(b + i, _mm_setzero_si128());
}
#else
inline void Idct2x2Store(const int16_t* coef, const int16_t* quant, uint8_t* out,
                         ptrdiff_t stride) {
  Idct2x2ReferenceStore(coef, quant, out, stride);
}
inline void Idct4x4Store(const int16_t* coef, const int16_t* quant, uint8_t* out,
                         ptrdiff_t stride) {
  Idct4x4ReferenceStore(coef, quant, out, stride);
}
inline void ZeroCompact(int16_t* block, int rows) {
  std::memset(block, 0, static_cast<size_t>(rows) * 8 * sizeof(int16_t));
}
#endif

// libjpeg's next_marker(): skips anything up to 0xFF, fill bytes and stuffed
// zeros. Returns the marker code with *p just past it, or -1 at the end.
int NextMarker(const uint8_t** p, const uint8_t* end) {
  const uint8_t* q = *p;
  for (;;) {
    while (q < end && *q != 0xFF) ++q;
    while (q < end && *q == 0xFF) ++q;
    if (q >= end) return -1;
    int code = *q++;
    if (code != 0) {
      *p = q;
      return code;
    }
  }
}

Status Truncated(const std::string& what) {
  return Status::Corrupt("JPEG is truncated or damaged: " + what);
}

// Where one block of an MCU goes (T.81 A.2.3 interleaving order).
struct BlockPlan {
  bool luma = false;
  const DcLut* dc = nullptr;
  const AcLut* ac = nullptr;
  int x = 0;  // luma: offset of its pixels within the MCU's part of the row buffer
  int y = 0;
};

struct ScanSetup {
  const uint8_t* begin = nullptr;  // first entropy-coded byte
  const uint8_t* end = nullptr;
  int mcus_x = 0;
  int mcus_y = 0;
  int luma_h = 1;  // luma blocks per MCU, across and down
  int luma_v = 1;
  int blocks_in_mcu = 0;
  std::array<BlockPlan, 10> plan{};
  int restart_interval = 0;
  int16_t quant_dc = 0;
  alignas(16) std::array<int16_t, 64> quant_compact{};  // layout of the scale's IDCT
};

[[gnu::noinline]] Status ProcessRestart(BitReader& br, int expected) {
  const uint8_t* p = br.marker != nullptr ? br.marker : br.pos;
  int marker = NextMarker(&p, br.end);
  if (marker < 0) return Truncated("the data ends inside a restart interval");
  if (marker != 0xD0 + expected) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "found marker 0x%02X instead of RST%d", marker, expected);
    return Truncated(buf);
  }
  br = BitReader{0, 0, 0, p, br.end, nullptr};
  return Status::Ok();
}

// Decodes the scan into `out`; kOut is the reduced block size (1, 2 or 4
// pixels). *scan_end: where the entropy-coded data stopped.
template <int kOut>
Status RunScan(const ScanSetup& s, const PixelView& out, const uint8_t** scan_end) {
  const int out_w = out.width;
  const int out_h = out.height;
  const int stride = s.mcus_x * s.luma_h * kOut;
  const int band_rows = s.luma_v * kOut;
  std::vector<uint8_t> band(static_cast<size_t>(stride) * band_rows);
  alignas(16) int16_t block[64] = {};
  BitReader br{0, 0, 0, s.begin, s.end, nullptr};
  uint32_t predictor = 0;  // luma DC, modulo 2^32 (libjpeg keeps an int)
  int restarts_left = s.restart_interval;
  int next_restart = 0;
  const int16_t* quant = s.quant_compact.data();

  for (int my = 0; my < s.mcus_y; ++my) {
    for (int mx = 0; mx < s.mcus_x; ++mx) {
      if (s.restart_interval != 0) {
        if (restarts_left == 0) {
          BitReader copy = br;
          KAGAMI_RETURN_IF_ERROR(ProcessRestart(copy, next_restart));
          br = copy;
          next_restart = (next_restart + 1) & 7;
          predictor = 0;
          restarts_left = s.restart_interval;
        }
        --restarts_left;
      }
      uint8_t* mcu_out = band.data() + mx * s.luma_h * kOut;
      for (int b = 0; b < s.blocks_in_mcu; ++b) {
        const BlockPlan& p = s.plan[b];
        if (!p.luma) {
          if (!SkipDc(br, *p.dc) || !SkipAc(br, *p.ac)) [[unlikely]] {
            return Truncated("invalid Huffman code or coefficient run");
          }
          continue;
        }
        int32_t diff;
        if (!DecodeDc(br, *p.dc, &diff)) [[unlikely]] {
          return Truncated("invalid Huffman code");
        }
        predictor += static_cast<uint32_t>(diff);
        int16_t dc = static_cast<int16_t>(predictor);
        uint8_t* px = mcu_out + p.y * stride + p.x;
        if constexpr (kOut == 1) {
          if (!SkipAc(br, *p.ac)) [[unlikely]] {
            return Truncated("invalid Huffman code or coefficient run");
          }
          // jidctred.c jpeg_idct_1x1.
          int32_t v = (int32_t{dc} * s.quant_dc + 4) >> 3;
          *px = kRangeLimit[v & 1023];
        } else {
          constexpr const uint8_t* kSlots =
              kOut == 2 ? kZigzagToSlot2.data() : kZigzagToSlot4.data();
          int end = DecodeAcCompact(br, *p.ac, kSlots, block);
          if (end < 0) [[unlikely]] {
            return Truncated("invalid Huffman code or coefficient run");
          }
          if (end == kOnlyDc) {
            uint8_t v = kOut == 2 ? Idct2x2DcOnly(dc, s.quant_dc) : Idct4x4DcOnly(dc, s.quant_dc);
            for (int r = 0; r < kOut; ++r) std::memset(px + r * stride, v, kOut);
          } else {
            block[0] = dc;
            if constexpr (kOut == 2) {
              Idct2x2Store(block, quant, px, stride);
            } else {
              Idct4x4Store(block, quant, px, stride);
            }
            ZeroCompact(block, CompactRows(kOut));
          }
        }
      }
      if (br.bits < br.padding) [[unlikely]] {
        return Truncated("premature end of the image data");
      }
    }
    int row0 = my * band_rows;
    int rows = std::min(band_rows, out_h - row0);
    for (int r = 0; r < rows; ++r) {
      std::memcpy(out.row(row0 + r), band.data() + static_cast<size_t>(r) * stride,
                  static_cast<size_t>(out_w));
    }
  }
  *scan_end = br.marker != nullptr ? br.marker : br.pos;
  return Status::Ok();
}

Status Unsupported(const std::string& what) {
  return Status::Unsupported("JPEG variant not handled by the luminance decoder: " + what);
}

}  // namespace

Status JpegLumaDecoder::ParseSof(const unsigned char* seg, size_t len) {
  if (saw_sof_) return Unsupported("second SOF marker");
  saw_sof_ = true;
  if (len < 6) return Unsupported("short SOF segment");
  if (seg[0] != 8) return Unsupported(std::to_string(seg[0]) + "-bit samples");
  height_ = static_cast<int>(Be16(seg + 1));
  width_ = static_cast<int>(Be16(seg + 3));
  num_components_ = seg[5];
  if (height_ == 0) return Unsupported("height defined by a DNL marker");
  if (width_ == 0) return Unsupported("zero width");
  if (num_components_ != 1 && num_components_ != 3) {
    return Unsupported(std::to_string(num_components_) + " components");
  }
  if (len != 6 + 3 * static_cast<size_t>(num_components_)) return Unsupported("SOF length");
  for (int i = 0; i < num_components_; ++i) {
    const unsigned char* c = seg + 6 + 3 * i;
    Component& comp = components_[i];
    comp.id = c[0];
    comp.h = c[1] >> 4;
    comp.v = c[1] & 15;
    comp.tq = c[2];
    if (comp.h < 1 || comp.h > 4 || comp.v < 1 || comp.v > 4 || comp.tq > 3) {
      return Unsupported("sampling factors or quantisation table index");
    }
    for (int j = 0; j < i; ++j) {
      if (components_[j].id == comp.id) return Unsupported("duplicate component id");
    }
  }
  return Status::Ok();
}

Status JpegLumaDecoder::ParseDht(const unsigned char* seg, size_t len) {
  size_t p = 0;
  while (p < len) {
    if (len - p < 17) return Unsupported("short DHT segment");
    int tc = seg[p] >> 4;
    int th = seg[p] & 15;
    if (tc > 1 || th > 3) return Unsupported("DHT class or index");
    HuffSpec& spec = tc == 0 ? dc_specs_[th] : ac_specs_[th];
    int total = 0;
    spec.counts[0] = 0;
    for (int l = 1; l <= 16; ++l) {
      spec.counts[l] = seg[p + l];
      total += seg[p + l];
    }
    p += 17;
    if (total > 256 || len - p < static_cast<size_t>(total)) return Unsupported("DHT counts");
    spec.symbols.fill(0);
    std::memcpy(spec.symbols.data(), seg + p, static_cast<size_t>(total));
    spec.defined = true;
    p += static_cast<size_t>(total);
  }
  return Status::Ok();
}

Status JpegLumaDecoder::ParseDqt(const unsigned char* seg, size_t len) {
  size_t p = 0;
  while (p < len) {
    int pq = seg[p] >> 4;
    int tq = seg[p] & 15;
    if (pq > 1 || tq > 3) return Unsupported("DQT precision or index");
    size_t need = 1 + 64 * static_cast<size_t>(pq + 1);
    if (len - p < need) return Unsupported("short DQT segment");
    QuantSpec& q = quant_[tq];
    for (int i = 0; i < 64; ++i) {
      q.values[kZigzagToNatural[i]] = static_cast<uint16_t>(
          pq == 0 ? seg[p + 1 + i] : Be16(seg + p + 1 + 2 * static_cast<size_t>(i)));
    }
    q.defined = true;
    p += need;
  }
  return Status::Ok();
}

Status JpegLumaDecoder::ParseDri(const unsigned char* seg, size_t len) {
  if (len != 2) return Unsupported("DRI length");
  restart_interval_ = static_cast<int>(Be16(seg));
  return Status::Ok();
}

Status JpegLumaDecoder::ParseSos(const unsigned char* seg, size_t len) {
  if (!saw_sof_) return Unsupported("SOS before SOF");
  if (len < 1) return Unsupported("short SOS segment");
  int ns = seg[0];
  if (len != 4 + 2 * static_cast<size_t>(ns)) return Unsupported("SOS length");
  if (ns != num_components_) return Unsupported("non-interleaved (multi-scan) sequential JPEG");
  for (int i = 0; i < ns; ++i) {
    int id = seg[1 + 2 * i];
    int index = -1;
    for (int j = 0; j < num_components_; ++j) {
      if (components_[j].id == id) index = j;
    }
    if (index < 0) return Unsupported("SOS names an unknown component");
    for (int j = 0; j < i; ++j) {
      if (scan_order_[j] == index) return Unsupported("SOS names a component twice");
    }
    scan_order_[i] = index;
    components_[index].td = seg[2 + 2 * i] >> 4;
    components_[index].ta = seg[2 + 2 * i] & 15;
    if (components_[index].td > 3 || components_[index].ta > 3) {
      return Unsupported("Huffman table index");
    }
  }
  const unsigned char* tail = seg + 1 + 2 * ns;
  if (tail[0] != 0 || tail[1] != 63 || tail[2] != 0) {
    return Unsupported("spectral selection or successive approximation in a sequential scan");
  }
  return Status::Ok();
}

Status JpegLumaDecoder::ReadHeader(const unsigned char* data, size_t size) {
  *this = JpegLumaDecoder();
  data_ = data;
  size_ = size;
  if (data == nullptr || size < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    return Unsupported("no SOI marker");
  }
  size_t p = 2;
  for (;;) {
    if (p >= size || data[p] != 0xFF) return Unsupported("bytes between markers, or no SOS");
    while (p < size && data[p] == 0xFF) ++p;
    if (p >= size) return Unsupported("no SOS marker");
    int marker = data[p++];
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9)) {
      return Unsupported("marker without a length before the scan");
    }
    if (size - p < 2) return Unsupported("segment past the end of the data");
    size_t length = Be16(data + p);
    if (length < 2 || size - p < length) return Unsupported("segment past the end of the data");
    const unsigned char* seg = data + p + 2;
    size_t seg_len = length - 2;
    switch (marker) {
      case 0xC0:  // baseline
      case 0xC1:  // extended sequential, Huffman
        KAGAMI_RETURN_IF_ERROR(ParseSof(seg, seg_len));
        break;
      case 0xC4:
        KAGAMI_RETURN_IF_ERROR(ParseDht(seg, seg_len));
        break;
      case 0xDB:
        KAGAMI_RETURN_IF_ERROR(ParseDqt(seg, seg_len));
        break;
      case 0xDD:
        KAGAMI_RETURN_IF_ERROR(ParseDri(seg, seg_len));
        break;
      case 0xE0:  // libjpeg jdmarker.c examine_app0
        if (seg_len >= 14 && std::memcmp(seg, "JFIF", 5) == 0) saw_jfif_ = true;
        break;
      case 0xEE:  // examine_app14
        if (seg_len >= 12 && std::memcmp(seg, "Adobe", 5) == 0) {
          saw_adobe_ = true;
          adobe_transform_ = seg[11];
        }
        break;
      case 0xDA: {
        KAGAMI_RETURN_IF_ERROR(ParseSos(seg, seg_len));
        entropy_start_ = p + length;
        if (num_components_ == 3) {
          // libjpeg jdapimin.c default_decompress_parms: only YCbCr is handled.
          bool ycbcr = saw_jfif_    ? true
                       : saw_adobe_ ? adobe_transform_ == 1
                                    : components_[0].id == 1 && components_[1].id == 2 &&
                                          components_[2].id == 3;
          if (!ycbcr) return Unsupported("colour space other than YCbCr");
          const Component& y = components_[0];
          bool chroma_1x1 = components_[1].h == 1 && components_[1].v == 1 &&
                            components_[2].h == 1 && components_[2].v == 1;
          bool luma_ok = (y.h <= 2 && y.v <= 2) || (y.h == 4 && y.v == 1);
          if (!chroma_1x1 || !luma_ok) return Unsupported("sampling factors");
        }
        header_ok_ = true;
        return Status::Ok();
      }
      default:
        if ((marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE) break;  // APPn, COM
        // SOF2/3/5-7/9-11/13-15 (progressive, lossless, hierarchical,
        // arithmetic), DAC, DNL, JPG, reserved.
        char name[48];
        std::snprintf(name, sizeof(name), "marker 0x%02X", marker);
        return Unsupported(name);
    }
    p += length;
  }
}

Status JpegLumaDecoder::ReadTrailer(size_t pos) {
  const uint8_t* p = data_ + pos;
  const uint8_t* end = data_ + size_;
  for (;;) {
    int marker = NextMarker(&p, end);
    if (marker < 0) return Truncated("premature end of file (no EOI marker)");
    if (marker == 0xD9) return Status::Ok();
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // libjpeg ignores them
    bool skippable = (marker >= 0xE0 && marker <= 0xEF) || marker == 0xFE || marker == 0xDC ||
                     marker == 0xC4 || marker == 0xDB || marker == 0xDD;
    if (!skippable) {
      char name[64];
      std::snprintf(name, sizeof(name), "marker 0x%02X after the scan", marker);
      return Unsupported(name);
    }
    if (end - p < 2) return Truncated("premature end of file");
    size_t length = Be16(p);
    if (length < 2) return Unsupported("segment length after the scan");
    if (static_cast<size_t>(end - p) < length) return Truncated("premature end of file");
    const uint8_t* seg = p + 2;
    if (marker == 0xC4) KAGAMI_RETURN_IF_ERROR(ParseDht(seg, length - 2));
    if (marker == 0xDB) KAGAMI_RETURN_IF_ERROR(ParseDqt(seg, length - 2));
    if (marker == 0xDD) KAGAMI_RETURN_IF_ERROR(ParseDri(seg, length - 2));
    p += length;
  }
}

Status JpegLumaDecoder::DecodeLuma(int scale_denom, const IngestLimits& limits,
                                   PixelStore& out_store) {
  if (!header_ok_) return Unsupported("no header was read");
  if (scale_denom != 2 && scale_denom != 4 && scale_denom != 8) {
    return Unsupported("scale 1/" + std::to_string(scale_denom));
  }
  if (static_cast<uint64_t>(width_) > limits.max_dimension ||
      static_cast<uint64_t>(height_) > limits.max_dimension ||
      static_cast<uint64_t>(width_) * static_cast<uint64_t>(height_) > limits.max_pixels) {
    return Status::ResourceExhausted("JPEG image is " + std::to_string(width_) + "x" +
                                     std::to_string(height_) + ", over the ingest limits");
  }
  const Component& luma = components_[0];
  if (!quant_[luma.tq].defined) return Unsupported("no quantisation table for Y");
  for (int i = 0; i < num_components_; ++i) {
    const Component& c = components_[scan_order_[i]];
    // libjpeg-turbo substitutes the standard tables for missing ones.
    if (!dc_specs_[c.td].defined || !ac_specs_[c.ta].defined) {
      return Unsupported("scan without its Huffman tables");
    }
  }

  try {
    std::unique_ptr<Tables> tables = std::make_unique_for_overwrite<Tables>();
    std::array<bool, 4> dc_built{};
    std::array<bool, 4> ac_codes_built{};
    std::array<bool, 4> ac_value_built{};
    std::array<bool, 4> ac_skip_built{};
    ScanSetup setup;
    setup.begin = data_ + entropy_start_;
    setup.end = data_ + size_;
    setup.restart_interval = restart_interval_;
    const int h_max = num_components_ == 1 ? 1 : luma.h;
    const int v_max = num_components_ == 1 ? 1 : luma.v;
    setup.luma_h = h_max;
    setup.luma_v = v_max;
    setup.mcus_x = (width_ + 8 * h_max - 1) / (8 * h_max);
    setup.mcus_y = (height_ + 8 * v_max - 1) / (8 * v_max);
    const int out_block = 8 / scale_denom;
    for (int i = 0; i < num_components_; ++i) {
      const int index = scan_order_[i];
      const Component& c = components_[index];
      DcLut& dc = tables->dc[c.td];
      AcLut& ac = tables->ac[c.ta];
      if (!dc_built[c.td]) {
        dc_built[c.td] = true;
        if (!BuildCodes(dc_specs_[c.td].counts, dc_specs_[c.td].symbols, true, &dc.codes)) {
          return Unsupported("invalid DC Huffman table");
        }
        BuildDcLut(&dc);
      }
      if (!ac_codes_built[c.ta]) {
        ac_codes_built[c.ta] = true;
        if (!BuildCodes(ac_specs_[c.ta].counts, ac_specs_[c.ta].symbols, false, &ac.codes)) {
          return Unsupported("invalid AC Huffman table");
        }
      }
      // Luma AC values are needed at 1/2 and 1/4; everything else is skipped.
      const bool values = index == 0 && scale_denom != 8;
      if (values && !ac_value_built[c.ta]) {
        ac_value_built[c.ta] = true;
        BuildAcValueLut(&ac);
      }
      if (!values && !ac_skip_built[c.ta]) {
        ac_skip_built[c.ta] = true;
        BuildAcSkipLut(&ac);
      }
      const int blocks_h = num_components_ == 1 ? 1 : c.h;
      const int blocks_v = num_components_ == 1 ? 1 : c.v;
      for (int by = 0; by < blocks_v; ++by) {
        for (int bx = 0; bx < blocks_h; ++bx) {
          // ReadHeader admits at most 4 luma + 2 chroma blocks per MCU.
          assert(setup.blocks_in_mcu < static_cast<int>(setup.plan.size()));
          BlockPlan& plan = setup.plan[setup.blocks_in_mcu++];
          plan.luma = index == 0;
          plan.dc = &dc;
          plan.ac = &ac;
          plan.x = bx * out_block;
          plan.y = by * out_block;
        }
      }
    }
    const QuantSpec& q = quant_[luma.tq];
    setup.quant_dc = static_cast<int16_t>(q.values[0]);
    if (scale_denom != 8) {
      const int layout = 8 / scale_denom;
      for (int n = 0; n < 64; ++n) {
        int slot = CompactSlot(layout, n);
        if (slot != DummySlot(layout)) {
          setup.quant_compact[slot] = static_cast<int16_t>(q.values[n]);
        }
      }
    }

    PixelView out = out_store.Allocate((width_ + scale_denom - 1) / scale_denom,
                                       (height_ + scale_denom - 1) / scale_denom, 1);
    const uint8_t* scan_end = nullptr;
    KAGAMI_RETURN_IF_ERROR(scale_denom == 8   ? RunScan<1>(setup, out, &scan_end)
                           : scale_denom == 4 ? RunScan<2>(setup, out, &scan_end)
                                              : RunScan<4>(setup, out, &scan_end));
    KAGAMI_RETURN_IF_ERROR(ReadTrailer(static_cast<size_t>(scan_end - data_)));
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory decoding a JPEG");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("decoding a JPEG: ") + e.what());
  }
}

void Idct2x2Reference(const int16_t* coef, const int16_t* quant, uint8_t out[4]) {
  Idct2x2ReferenceStore(coef, quant, out, 2);
}

void Idct4x4Reference(const int16_t* coef, const int16_t* quant, uint8_t out[16]) {
  Idct4x4ReferenceStore(coef, quant, out, 4);
}

namespace {

// The decoder's path for one block: the DC-only shortcut when the
// coefficients other than DC are zero, else the SIMD IDCT.
template <int kOut>
void IdctFast(const int16_t* coef, const int16_t* quant, uint8_t* out) {
  constexpr int kSlots = DummySlot(kOut);
  alignas(16) int16_t c[64] = {};
  alignas(16) int16_t q[64] = {};
  std::memcpy(c, coef, kSlots * sizeof(int16_t));
  std::memcpy(q, quant, kSlots * sizeof(int16_t));
  if (std::all_of(c + 1, c + kSlots, [](int16_t v) { return v == 0; })) {
    std::memset(out, kOut == 2 ? Idct2x2DcOnly(c[0], q[0]) : Idct4x4DcOnly(c[0], q[0]),
                kOut * kOut);
  } else if constexpr (kOut == 2) {
    Idct2x2Store(c, q, out, 2);
  } else {
    Idct4x4Store(c, q, out, 4);
  }
}

}  // namespace

void Idct2x2Fast(const int16_t* coef, const int16_t* quant, uint8_t out[4]) {
  IdctFast<2>(coef, quant, out);
}

void Idct4x4Fast(const int16_t* coef, const int16_t* quant, uint8_t out[16]) {
  IdctFast<4>(coef, quant, out);
}

}  // namespace kagami::ingest::internal
