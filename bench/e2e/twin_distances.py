#!/usr/bin/env python3
"""PDQ distances between registered pictures, for the twin rule
(index::RobustOptions::twin_radius): how far apart different pictures are,
and how far one picture is from another export of itself.

Input: `kagami hash --decode fast` JSON lines (registration's decode).

  twin_distances.py --pictures A.jsonl [B.jsonl ...] \
      [--variant ORIGINAL.jsonl VARIANT.jsonl ...] [--list 31]

--pictures: every pair of distinct pictures among the files' pages (both of
PDQ quality >= 50): the distribution and the closest pairs (to be looked at:
copies of one drawing in the corpus are not different pictures).
--variant: pairs of the same member name in ORIGINAL and VARIANT (another
export of each picture: re-encoded, resized, retoned); repeatable.
"""
import argparse
import json
import sys


def load(path):
    pages = []
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if "pdq" in j:
                pages.append((j["file"], j.get("member", ""), int(j["pdq"], 16), j["quality"]))
    return pages


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pictures", nargs="+", default=[])
    ap.add_argument("--variant", nargs=2, action="append", default=[])
    ap.add_argument("--list", type=int, default=31, help="list picture pairs within this many bits")
    ap.add_argument("--min-quality", type=int, default=50)
    args = ap.parse_args()
    thresholds = (8, 12, 16, 20, 24, 31)

    if args.pictures:
        seen, pages = set(), []
        for path in args.pictures:
            for p in load(path):
                if p[3] >= args.min_quality and p[0] + p[1] not in seen:
                    seen.add(p[0] + p[1])
                    pages.append(p)
        counts = dict.fromkeys(thresholds, 0)
        close, total, minimum = [], 0, 256
        for i in range(len(pages)):
            a = pages[i][2]
            for j in range(i + 1, len(pages)):
                d = (a ^ pages[j][2]).bit_count()
                total += 1
                minimum = min(minimum, d)
                for t in thresholds:
                    if d <= t:
                        counts[t] += 1
                if d <= args.list:
                    close.append((d, pages[i][0], pages[j][0]))
        print(f"pictures: {len(pages)} (quality >= {args.min_quality}), pairs: {total}, "
              f"closest: {minimum} bits")
        print("| pairs within | " + " | ".join(f"{t}" for t in thresholds) + " |")
        print("|---|" + "---:|" * len(thresholds))
        print("| count | " + " | ".join(str(counts[t]) for t in thresholds) + " |")
        for d, a, b in sorted(close):
            print(f"  {d:3d}  {a}  {b}")

    if args.variant:
        print("\n| variant | pairs | p50 | p90 | p99 | max | " +
              " | ".join(f"<= {t}" for t in thresholds) + " |")
        print("|---|---:|---:|---:|---:|---:|" + "---:|" * len(thresholds))
        for original, variant in args.variant:
            base = {p[1]: p for p in load(original)}
            ds = sorted((p[2] ^ base[p[1]][2]).bit_count() for p in load(variant)
                        if p[1] in base and p[3] >= args.min_quality and
                        base[p[1]][3] >= args.min_quality)
            if not ds:
                continue
            shares = " | ".join(f"{100.0 * sum(d <= t for d in ds) / len(ds):.0f}%"
                                for t in thresholds)
            print(f"| {variant} | {len(ds)} | {percentile(ds, 50):.0f} | {percentile(ds, 90):.0f} | "
                  f"{percentile(ds, 99):.0f} | {ds[-1]} | {shares} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
