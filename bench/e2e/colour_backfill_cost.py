#!/usr/bin/env python3
"""Cost of giving an older catalog its colour signatures (`kagami register` again).

A catalog registered before the colour check holds version 2 local-features
blobs (a thumbnail, no colour signature). Run again on the same files,
`register` reads each such file again and appends the signature
(Catalog::AddMissingColour). This bench registers a folder of real images
(photos from gnome-backgrounds and plasma-workspace-wallpapers, openclipart
drawings), turns every stored blob back into version 2 as an older Kagami
wrote it (the same bytes without the last 4, version byte 2), and times, in
CPU seconds of the `kagami` processes (user + system), side by side in each
round:

  fresh     `register` into an empty data directory
  backfill  `register` again on the downgraded catalog
  skip      `register` a third time (every file already complete)

and checks that the backfilled blobs are byte for byte the fresh ones.

  bench/e2e/colour_backfill_cost.py --kagami build/app/kagami --work /tmp/cbf --rounds 3
"""
import argparse
import glob
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys


def sources(limit):
    photos = sorted(glob.glob("/usr/share/backgrounds/gnome/*.webp"))
    for d in sorted(glob.glob("/usr/share/wallpapers/*/contents/images")):
        files = sorted(glob.glob(d + "/*.jpg") + glob.glob(d + "/*.png"))
        if files:
            photos.append(files[-1])
    clipart = sorted(glob.glob("/usr/share/openclipart/png/**/*.png", recursive=True))
    clipart = [p for p in clipart if os.path.getsize(p) > 20000]
    picked = photos[: limit // 3] + clipart[: limit - min(len(photos), limit // 3)]
    return picked[:limit]


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), out.stdout, out.stderr))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, json.loads(out.stdout)


def blobs(data):
    with sqlite3.connect(os.path.join(data, "catalog.sqlite")) as db:
        return dict(db.execute("SELECT id, local_features FROM units ORDER BY id").fetchall())


def downgrade(data):
    n = 0
    with sqlite3.connect(os.path.join(data, "catalog.sqlite")) as db:
        for unit, blob in db.execute("SELECT id, local_features FROM units").fetchall():
            if blob is not None and blob[:4] == b"KLQ\x03":
                older = blob[:3] + b"\x02" + blob[4:-4]
                db.execute("UPDATE units SET local_features = ? WHERE id = ?", (older, unit))
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kagami", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    folder = os.path.join(a.work, "pages")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(folder)
    files = sources(a.count)
    for i, p in enumerate(files):
        shutil.copy(p, os.path.join(folder, "%03d%s" % (i, os.path.splitext(p)[1])))
    print("%d files (%s)" % (len(files), folder))

    times = {"fresh": [], "backfill": [], "skip": []}
    for r in range(a.rounds):
        data = os.path.join(a.work, "data%d" % r)
        reg = [a.kagami, "--threads", str(a.threads), "--data", data, "register", "--work",
               "w", "--title", "W", "--json", folder]
        cpu, s = run(reg)
        times["fresh"].append(cpu)
        fresh = blobs(data)
        downgraded = downgrade(data)
        cpu, s = run(reg)
        times["backfill"].append(cpu)
        if blobs(data) != fresh:
            sys.exit("round %d: backfilled blobs differ from the fresh ones" % r)
        print("round %d: %d pages, %d downgraded, units_colour_backfilled %d, assets_backfilled %d"
              % (r, len(fresh), downgraded,
                 s["units_colour_backfilled"], s["assets_backfilled"]))
        cpu, s = run(reg)
        times["skip"].append(cpu)
        if s["assets_skipped"] == 0 or s["assets_backfilled"] != 0:
            print("round %d: third run did not skip: %s" % (r, json.dumps(s)))
    print("| run | CPU s per round (%d rounds) | median | per file ms |" % a.rounds)
    print("|---|---|---:|---:|")
    for k, v in times.items():
        m = statistics.median(v)
        print("| %s | %s | %.2f | %.1f |" % (k, " / ".join("%.2f" % x for x in v), m,
                                           1000 * m / len(files)))


if __name__ == "__main__":
    main()
