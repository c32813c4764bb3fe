#!/usr/bin/env python3
"""Distributions of the local stage from kagami_bench_real_calibration traces.

Usage: bench/e2e/local_trace_report.py WORK TRACE_DIR

WORK is the bench's --work directory (query folders q_*, the Kagami store
data-kagami1), TRACE_DIR its --trace-dir. Each trace line names its query by
the FNV-1a hash of the file's bytes (index/src/robust_matcher.cc); queries
"r<i>_r<j>_..." show registered items i and j (registered file r<iii>.jpg).

Prints, for true candidates (a query against a registered page it shows) and
unrelated candidates (every other verified candidate, and every candidate of
the unrelated images), percentiles of the gate score, of the quantised
verification's inliers, coverage, overlap coverage and grid cells, how many of
each the verifier accepted, and the local stage's time per query and stage.

Also prints how many candidates were accepted in the registered page's content
frame (RobustOptions::content_frame_min_inliers) and the content-frame
measurements the trace recorded for rejected candidates.

Appearance (RobustOptions::appearance_min_inliers): where the trace measured
the photometric check (every sane candidate with 8 or more inliers, in every
pass and look), the distribution of its correlation for true and unrelated
candidates, by what the geometry said (accepted; failed only coverage,
overlap coverage or inlier spread; failed on the inlier count), and the
strongest unrelated ones.

Where the trace has the cascade's record (RobustOptions::cascade), also prints
the distribution of its score (the most cheap-RANSAC inliers among its
candidates, one value per query) for the true pages the full stage accepted
and for the unrelated images, and per threshold how many of those true pages
it would lose and how many unrelated images it would let through.
"""
import json
import os
import re
import sqlite3
import sys


def fnv1a(data):
    h = 1469598103934665603
    for c in data:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def row(name, values, fmt="%.3g"):
    ps = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]
    if not values:
        return "| %s | 0 |%s" % (name, " - |" * len(ps))
    cells = " | ".join(fmt % pct(values, p) for p in ps)
    return "| %s | %d | %s |" % (name, len(values), cells)


def main():
    work, trace_dir = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(os.path.join(work, "data-kagami1", "catalog.sqlite"))
    unit_item = {}
    for unit, path in db.execute(
        "SELECT units.id, assets.path FROM units JOIN assets ON units.asset_id = assets.id"
    ):
        m = re.match(r"r(\d+)\.jpg", os.path.basename(path))
        if m:
            unit_item[unit] = int(m.group(1))
    true_c, unrel_c = [], []
    stages = ("cascade", "decode", "extract", "gate", "verify")
    times = {k: [] for k in stages}
    unrelated_times = {k: [] for k in stages}
    # Cascade: (score, true pages the full stage accepted, true page among
    # the cascade's candidates) per edit query; score per unrelated image.
    cascade_true, cascade_other, cascade_unrelated = [], [], []
    cascade_stopped = {"edit": 0, "unrelated": 0}
    true_missing_from_gate = 0
    queries_true = 0
    appearance_c = []
    for trace in sorted(os.listdir(trace_dir)):
        name = trace[: -len(".jsonl")]
        folder = None
        for d in os.listdir(work):
            if d.startswith("q_") and re.sub(r"[^0-9A-Za-z]", "_", d[2:]) == name[: len(d) - 2]:
                folder = d
        if name == "unrelated":
            folder = "q_unrelated"
        if folder is None:
            continue
        truth_of = {}
        for f in os.listdir(os.path.join(work, folder)):
            with open(os.path.join(work, folder, f), "rb") as fh:
                truth_of[fnv1a(fh.read())] = {
                    int(x) for x in re.findall(r"(?:^|_)r(\d+)(?=_)", f)
                }
        for line in open(os.path.join(trace_dir, trace)):
            rec = json.loads(line)
            truth = truth_of.get(rec["query"])
            if truth is None:
                continue
            cascade = rec.get("cascade")
            for k in times:
                if k == "cascade":
                    ms = cascade["ms"] if cascade else 0.0
                else:
                    ms = rec["ms_" + k]
                (unrelated_times if name == "unrelated" else times)[k].append(ms)
            nested = []
            for key in ("second_chance", "unbanded", "other_page"):
                if isinstance(rec.get(key), dict):
                    nested += rec[key].get("candidates", [])
            for z in rec.get("zoomed", []):
                nested += z.get("candidates", [])
            for c in rec["candidates"] + nested:
                a = c.get("appearance")
                if not a or not a.get("measured") or "sane" not in c:
                    continue
                item = unit_item.get(c["unit"], -1)
                c["edit"] = name
                c["truth"] = item in truth
                appearance_c.append(c)
            gated = set()
            for c in rec["candidates"]:
                item = unit_item.get(c["unit"], -1)
                c["edit"] = name
                if item in truth:
                    true_c.append(c)
                    gated.add(item)
                else:
                    unrel_c.append(c)
            if truth:
                queries_true += len(truth)
                true_missing_from_gate += len(truth - gated)
            if cascade:
                if cascade["stopped"]:
                    cascade_stopped["unrelated" if name == "unrelated" else "edit"] += 1
                accepted = {unit_item.get(c["unit"], -1) for c in rec["candidates"]
                            if c["accepted"]} & truth
                in_cascade = any(unit_item.get(c["unit"], -1) in truth
                                 for c in cascade["candidates"])
                if name == "unrelated":
                    cascade_unrelated.append(cascade["inliers"])
                elif accepted:
                    cascade_true.append((cascade["inliers"], len(accepted), in_cascade, name))
                else:
                    cascade_other.append(cascade["inliers"])
    print("true candidates %d (true pages never verified: %d of %d), unrelated candidates %d"
          % (len(true_c), true_missing_from_gate, queries_true, len(unrel_c)))
    print("| measure | n | min | p1 | p5 | p25 | p50 | p75 | p95 | p99 | max |")
    print("|---|---:|" + "---:|" * 9)
    for label, cs in (("true", true_c), ("unrelated", unrel_c)):
        gated = [c for c in cs if c.get("score", -1) >= 0]
        print(row(label + " gate score", [c["score"] for c in gated], "%.1f"))
        print(row(label + " inliers", [c["inliers"] for c in cs], "%d"))
        sane = [c for c in cs if c.get("sane")]
        print(row(label + " coverage (sane)", [c["coverage"] for c in sane]))
        print(row(label + " overlap coverage (sane)", [c["overlap_coverage"] for c in sane]))
        print(row(label + " grid cells (sane)", [c["cells"] for c in sane], "%d"))
    for label, cs in (("true", true_c), ("unrelated", unrel_c)):
        acc = sum(1 for c in cs if c["accepted"])
        reasons = {}
        for c in cs:
            if not c["accepted"]:
                reasons[c["rejected_by"]] = reasons.get(c["rejected_by"], 0) + 1
        print("%s: accepted %d of %d; rejected by %s" % (label, acc, len(cs), reasons))
    top = sorted(unrel_c, key=lambda c: -c["inliers"])[:5]
    for c in top:
        print("  strongest unrelated: %s unit %d: %d inliers, coverage %.3f, overlap %.3f, "
              "cells %d, %s" % (c["edit"], c["unit"], c["inliers"], c["coverage"],
                                 c["overlap_coverage"], c["cells"], c["rejected_by"] or "ACCEPTED"))
    # Content frame (RobustOptions::content_frame_min_inliers): candidates
    # accepted in it ("content_frame") and, where the trace measured it (every
    # sane candidate that was not accepted, against a page whose keypoints
    # lie within half of it), the content-frame measurements.
    for label, cs in (("true", true_c), ("unrelated", unrel_c)):
        in_frame = [c for c in cs if c.get("content_frame")]
        measured = [c["content"] for c in cs if c.get("content") and not c.get("content_frame")]
        print("%s: accepted in the content frame %d; content frame measured for %d other "
              "candidates (accepted by every threshold but the inlier floor: %d)"
              % (label, len(in_frame), len(measured), sum(1 for m in measured if m["accepted"])))
        if in_frame:
            print(row(label + " content-frame accepted inliers", [c["inliers"] for c in in_frame],
                      "%d"))
        if measured:
            print(row(label + " content-frame inliers", [m["inliers"] for m in measured], "%d"))
            print(row(label + " content-frame coverage", [m["coverage"] for m in measured]))
    if appearance_c:
        only_cov = ("coverage", "overlap coverage", "inlier spread")

        def bucket(c):
            if c["accepted"] and not c.get("by_appearance"):
                return "geometry accepted"
            if c.get("by_appearance") or c["rejected_by"] in only_cov:
                return "failed only coverage/spread"
            if c["rejected_by"] == "inliers":
                return "failed on inliers"
            return "other (%s)" % c["rejected_by"]

        print("\nappearance correlation (measured candidates)")
        print("| candidates | n | min | p1 | p5 | p25 | p50 | p75 | p95 | p99 | max |")
        print("|---|---:|" + "---:|" * 9)
        groups = {}
        for c in appearance_c:
            groups.setdefault(("true" if c["truth"] else "unrelated", bucket(c)), []).append(c)
        for key in sorted(groups):
            print(row("%s, %s" % key, [c["appearance"]["correlation"] for c in groups[key]],
                      "%.3f"))
        for c in sorted((c for c in appearance_c if not c["truth"]),
                        key=lambda c: -c["appearance"]["correlation"])[:12]:
            a = c["appearance"]
            print("  unrelated: %s unit %d: corr %.3f worst cell %.2f compared %.2f contrast %.2f, "
                  "%d inliers, cells %d, %s" % (c["edit"], c["unit"], a["correlation"],
                                                a.get("worst_cell", -1), a["compared"],
                                    a["contrast"], c["inliers"], c["cells"],
                                    c["rejected_by"] or "ACCEPTED"))
        for c in sorted((c for c in appearance_c if c["truth"] and bucket(c) != "geometry accepted"),
                        key=lambda c: -c["appearance"]["correlation"]):
            a = c["appearance"]
            print("  true not by geometry: %s unit %d: corr %.3f worst cell %.2f compared %.2f "
                  "contrast %.2f, %d inliers, cells %d, %s" % (c["edit"], c["unit"],
                                                              a["correlation"],
                                                              a.get("worst_cell", -1),
                                                              a["compared"], a["contrast"], c["inliers"],
                                               c["cells"], c["rejected_by"] or "ACCEPTED"))
    for label, t in (("edit queries", times), ("unrelated queries", unrelated_times)):
        if t["decode"]:
            total = [sum(v) for v in zip(*t.values())]
            print("%s: local stage ms per query p50 (mean): " % label + ", ".join(
                "%s %.1f (%.1f)" % (k, pct(v, 0.5), sum(v) / len(v)) for k, v in t.items())
                + "; all %.1f (%.1f)" % (pct(total, 0.5), sum(total) / len(total)))
    if cascade_true or cascade_unrelated:
        print("\ncascade score (most cheap-RANSAC inliers among its candidates), one per query;"
              " stopped at the cascade: %d edit queries, %d unrelated images"
              % (cascade_stopped["edit"], cascade_stopped["unrelated"]))
        print("| queries | n | min | p1 | p5 | p25 | p50 | p75 | p95 | p99 | max |")
        print("|---|---:|" + "---:|" * 9)
        print(row("true page accepted by the full stage", [c[0] for c in cascade_true], "%d"))
        print(row("edit query, no true page accepted", cascade_other, "%d"))
        print(row("unrelated image", cascade_unrelated, "%d"))
        print("true pages accepted whose page was among the cascade's candidates: %d of %d"
              % (sum(1 for c in cascade_true if c[2]), len(cascade_true)))
        low = sorted(cascade_true)[:8]
        print("lowest true: " + ", ".join("%s %d" % (c[3], c[0]) for c in low))
        print("| min_inliers | true pages lost (of %d) | unrelated images through (of %d) |"
              % (sum(c[1] for c in cascade_true), len(cascade_unrelated)))
        print("|---:|---:|---:|")
        for t in range(0, 31):
            lost = sum(c[1] for c in cascade_true if c[0] < t)
            through = sum(1 for u in cascade_unrelated if u >= t)
            print("| %d | %d | %d |" % (t, lost, through))


if __name__ == "__main__":
    main()
