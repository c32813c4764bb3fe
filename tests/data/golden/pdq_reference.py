#!/usr/bin/env python3
"""An independent PDQ hasher (pure Python 3, no third-party modules) used to
produce tests/data/golden/expected.csv. It follows the PDQ paper
(ThreatExchange "hashing.pdf") and the reference tool's steps: full-size decode
(JPEG through djpeg from libjpeg-turbo-progs, PNG through the decoder below),
nearest-neighbour resize to 512x512 when a side exceeds 512, luminance
0.299 R + 0.587 G + 0.114 B, two passes of Jarosz box filters with window
ceil(side / 128), decimation to 64x64 at pixel centres, the 16x16 DCT-II
corner, bits above the median, quality from the 64x64 gradients. Arithmetic is
rounded to IEEE single precision after every operation, as the reference's
float code does.

Usage: pdq_reference.py IMAGE...   prints "hash_hex,quality,filename" rows.
       pdq_reference.py --check VECTORS_DIR   compares with VECTORS_DIR/expected.csv.
"""

import math
import os
import struct
import subprocess
import sys
import zlib

_F = struct.Struct("f")


def f32(x):
    return _F.unpack(_F.pack(x))[0]


# ---------------------------------------------------------------- decoding


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, plte, trns = 8, b"", None, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            plte = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert interlace == 0, "interlaced PNG not supported here"
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    bits_pp = channels * depth
    stride = (width * bits_pp + 7) // 8
    bpp = max(1, bits_pp // 8)
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    # Samples -> (R, G, B) or gray per pixel, 8-bit (16-bit keeps the high byte).
    pixels = []
    for line in rows:
        out = []
        for x in range(width):
            if depth == 16:
                s = [line[(x * channels + c) * 2] for c in range(channels)]
            elif depth == 8:
                s = [line[x * channels + c] for c in range(channels)]
            else:
                bit = x * depth
                v = (line[bit // 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
                s = [v if ctype == 3 else v * 255 // ((1 << depth) - 1)]
            if ctype == 3:
                s = list(plte[s[0] * 3:s[0] * 3 + 3])
            out.append(s[:3] if len(s) >= 3 else s[:1])
        pixels.append(out)
    return width, height, pixels


def read_jpeg(path):
    ppm = subprocess.run(["djpeg", "-pnm", path], check=True, capture_output=True).stdout
    parts, pos = [], 0
    while len(parts) < 4:  # magic, width, height, maxval
        while ppm[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not ppm[end:end + 1].isspace():
            end += 1
        parts.append(ppm[pos:end])
        pos = end
    pos += 1
    width, height = int(parts[1]), int(parts[2])
    channels = 3 if parts[0] == b"P6" else 1
    body = ppm[pos:]
    pixels = [[list(body[(y * width + x) * channels:(y * width + x + 1) * channels])
               for x in range(width)] for y in range(height)]
    return width, height, pixels


# ---------------------------------------------------------------- PDQ


def luma(width, height, pixels):
    if width > 512 or height > 512:  # CImg nearest-neighbour resize to 512x512
        cols = [int(math.floor(x * width / 512.0)) for x in range(512)]
        rows = [int(math.floor(y * height / 512.0)) for y in range(512)]
        pixels = [[pixels[r][c] for c in cols] for r in rows]
        width = height = 512
    out = []
    for row in pixels:
        line = []
        for p in row:
            if len(p) == 1:
                line.append(f32(p[0]))
            else:
                line.append(f32(f32(f32(f32(0.299) * p[0]) + f32(f32(0.587) * p[1])) +
                                f32(f32(0.114) * p[2])))
        out.append(line)
    return width, height, out


def box1d(values, window):
    n = len(values)
    half = (window + 2) // 2
    out = [0.0] * n
    li = ri = oi = 0
    total, count = 0.0, 0
    for _ in range(half - 1):
        total = f32(total + values[ri]); count += 1; ri += 1
    for _ in range(window - half + 1):
        total = f32(total + values[ri]); count += 1; out[oi] = f32(total / count); ri += 1; oi += 1
    for _ in range(n - window):
        total = f32(total + values[ri]); total = f32(total - values[li])
        out[oi] = f32(total / count); li += 1; ri += 1; oi += 1
    for _ in range(half - 1):
        total = f32(total - values[li]); count -= 1; out[oi] = f32(total / count); li += 1; oi += 1
    return out


def jarosz(width, height, image):
    wx = (width + 127) // 128
    wy = (height + 127) // 128
    for _ in range(2):
        image = [box1d(row, wx) for row in image]
        cols = [box1d([image[y][x] for y in range(height)], wy) for x in range(width)]
        image = [[cols[x][y] for x in range(width)] for y in range(height)]
    return image


def pdq(width, height, pixels):
    width, height, y = luma(width, height, pixels)
    y = jarosz(width, height, y)
    small = [[y[int((i + 0.5) * height / 64)][int((j + 0.5) * width / 64)] for j in range(64)]
             for i in range(64)]
    gradient = 0
    for i in range(63):
        for j in range(64):
            gradient += abs(int(f32(f32(f32(small[i + 1][j] - small[i][j]) * 100) / 255)))
    for i in range(64):
        for j in range(63):
            gradient += abs(int(f32(f32(f32(small[i][j + 1] - small[i][j]) * 100) / 255)))
    quality = min(100, gradient // 90)
    scale = f32(math.sqrt(2.0 / 64.0))
    d = [[f32(scale * f32(math.cos(math.pi / 2 / 64.0 * (i + 1) * (2 * j + 1)))) for j in range(64)]
         for i in range(16)]
    t = []
    for i in range(16):
        row = []
        for j in range(64):
            s = 0.0
            for k in range(64):
                s = f32(s + f32(d[i][k] * small[k][j]))
            row.append(s)
        t.append(row)
    b = []
    for i in range(16):
        for j in range(16):
            s = 0.0
            for k in range(64):
                s = f32(s + f32(t[i][k] * d[j][k]))
            b.append(s)
    median = sorted(b)[127]  # Torben's median of 256 values: the lower middle
    words = [0] * 16
    for k, v in enumerate(b):
        if v > median:
            words[k // 16] |= 1 << (k % 16)
    return "".join("%04x" % words[w] for w in range(15, -1, -1)), quality


def hash_file(path):
    reader = read_jpeg if path.lower().endswith((".jpg", ".jpeg")) else read_png
    return pdq(*reader(path))


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        bad = 0
        for line in open(os.path.join(argv[2], "expected.csv")):
            want_hash, want_quality, name = line.strip().split(",")
            got_hash, got_quality = hash_file(os.path.join(argv[2], "images", name))
            bits = bin(int(got_hash, 16) ^ int(want_hash, 16)).count("1")
            ok = bits == 0 and got_quality == int(want_quality)
            bad += not ok
            print("%-28s %3d bits, quality %d (reference %s)%s" %
                  (name, bits, got_quality, want_quality, "" if ok else "  MISMATCH"))
        return 1 if bad else 0
    for path in argv[1:]:
        h, q = hash_file(path)
        print("%s,%d,%s" % (h, q, os.path.basename(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
