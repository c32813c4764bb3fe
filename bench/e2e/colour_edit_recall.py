#!/usr/bin/env python3
"""Recall of the colour check (index::RobustOptions::colour_check) on colour edits.

Copies of registered pages in other colour settings (hue turned, saturation
changed, another colour temperature, sepia, greyscale), made with ffmpeg's
filters, scanned one file at a time with `kagami scan` against a data
directory where those pages are registered. Prints, per edit, how many copies
matched their own page and the colour disagreement of the matches where both
sides are in colour (the check drops a match above 0.5). Each copy is also
scanned with --no-colour-check: "dropped" counts the copies found only without
the check.

  bench/e2e/colour_edit_recall.py --kagami build/app/kagami \
      --data /tmp/g95c/data-kagami1 --registered /tmp/g95c/registered --work /tmp/coled

A copy is named after its registered file; a match to any other page counts
as wrong.
"""
import argparse
import json
import os
import subprocess
import sys

EDITS = [
    ("reencoded", "null"),
    ("hue+20", "hue=h=20"),
    ("hue-20", "hue=h=-20"),
    ("hue+35", "hue=h=35"),
    ("saturation0.6", "hue=s=0.6"),
    ("saturation1.5", "hue=s=1.5"),
    ("warm4000K", "colortemperature=temperature=4000"),
    ("cool9000K", "colortemperature=temperature=9000"),
    ("sepia", "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131"),
    ("greyscale", "hue=s=0"),
]


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kagami", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--registered", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", help="comma-separated edit names (default: all)")
    args = ap.parse_args()
    sources = sorted(f for f in os.listdir(args.registered) if f.endswith(".jpg"))
    print("| edit | copies | found | found with --no-colour-check | dropped by the check "
          "| wrong (check / none) | both in colour | disagreement p50 | p95 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, flt in EDITS:
        if args.only and name not in args.only.split(","):
            continue
        folder = os.path.join(args.work, name)
        os.makedirs(folder, exist_ok=True)
        for f in sources:
            out = os.path.join(folder, f)
            if not os.path.exists(out):
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i",
                                os.path.join(args.registered, f), "-vf", flt, "-q:v", "4", out],
                               check=True)
        found = wrong = found_off = wrong_off = dropped = 0
        colour = []
        for f in sources:
            own = {}
            for check in (True, False):
                command = [args.kagami, "--data", args.data, "--threads", "1", "scan",
                           "--format", "jsonl", os.path.join(folder, f)]
                if not check:
                    command.insert(-1, "--no-colour-check")
                r = subprocess.run(command, capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit("scan failed: %s\n%s" % (" ".join(command), r.stderr))
                own[check] = False
                for line in r.stdout.splitlines():
                    j = json.loads(line)
                    if j.get("type") != "match":
                        continue
                    if os.path.basename(j.get("ref_asset", "")) == f:
                        own[check] = True
                        if check and "colour_disagreement" in j:
                            colour.append(j["colour_disagreement"])
                    elif check:
                        wrong += 1
                    else:
                        wrong_off += 1
            found += own[True]
            found_off += own[False]
            dropped += own[False] and not own[True]
        print("| %s | %d | %d | %d | %d | %d / %d | %d | %.3f | %.3f | %.3f |" % (
            name, len(sources), found, found_off, dropped, wrong, wrong_off, len(colour),
            percentile(colour, 0.5), percentile(colour, 0.95), percentile(colour, 1.0)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
