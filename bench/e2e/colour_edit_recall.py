#!/usr/bin/env python3
"""Recall of the colour check (index::RobustOptions::colour_check) on colour edits.

Copies of registered pages in other colour settings (hue turned, saturation
changed, another colour temperature, sepia, greyscale), made with ffmpeg's
filters, scanned one file at a time with `kagami scan` against a data
directory where those pages are registered. Prints, per edit, how many copies
matched their own page and the colour disagreement of the matches where both
sides are in colour (the check drops a match above 0.5).

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
    args = ap.parse_args()
    sources = sorted(f for f in os.listdir(args.registered) if f.endswith(".jpg"))
    print("| edit | copies | found | wrong | both in colour | disagreement p50 | p95 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, flt in EDITS:
        folder = os.path.join(args.work, name)
        os.makedirs(folder, exist_ok=True)
        for f in sources:
            out = os.path.join(folder, f)
            if not os.path.exists(out):
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i",
                                os.path.join(args.registered, f), "-vf", flt, "-q:v", "4", out],
                               check=True)
        found = wrong = 0
        colour = []
        for f in sources:
            r = subprocess.run([args.kagami, "--data", args.data, "--threads", "1", "scan",
                                "--format", "jsonl", os.path.join(folder, f)],
                               capture_output=True, text=True)
            own = False
            for line in r.stdout.splitlines():
                j = json.loads(line)
                if j.get("type") != "match":
                    continue
                if os.path.basename(j.get("ref_asset", "")) == f:
                    own = True
                    if "colour_disagreement" in j:
                        colour.append(j["colour_disagreement"])
                else:
                    wrong += 1
            found += own
        print("| %s | %d | %d | %d | %d | %.3f | %.3f | %.3f |" % (
            name, len(sources), found, wrong, len(colour), percentile(colour, 0.5),
            percentile(colour, 0.95), percentile(colour, 1.0)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
