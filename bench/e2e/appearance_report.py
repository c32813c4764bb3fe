#!/usr/bin/env python3
"""The photometric check's correlation on the false-match sweep's candidates.

Usage: bench/e2e/appearance_report.py SWEEP_WORK

SWEEP_WORK is kagami_bench_false_match_sweep's --work directory; its
trace/*.jsonl hold the local stage's candidates (every pass and look). Every
candidate of a folder other than q_true_* is an unrelated pair (the sweep's
queries are never registered). Prints, for the candidates where the trace
measured the appearance (RobustOptions::appearance_min_inliers; every sane
candidate with 8 or more inliers), the distribution of the correlation by
what the geometry said, and the strongest unrelated candidates that the
geometry alone did not accept.
"""
import json
import os
import sys


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def candidates(rec):
    out = list(rec.get("candidates", []))
    for key in ("second_chance", "unbanded", "other_page"):
        if isinstance(rec.get(key), dict):
            out += rec[key].get("candidates", [])
    for z in rec.get("zoomed", []):
        out += z.get("candidates", [])
    return out


def bucket(c):
    if c["accepted"] and not c.get("by_appearance"):
        return "geometry accepted"
    if c.get("by_appearance") or c["rejected_by"] in ("coverage", "overlap coverage",
                                                       "inlier spread"):
        return "failed only coverage/spread"
    if c["rejected_by"] == "inliers":
        return "failed on inliers"
    return "other (%s)" % c["rejected_by"]


def main():
    trace_dir = os.path.join(sys.argv[1], "trace")
    groups = {}
    rows = []
    for name in sorted(os.listdir(trace_dir)):
        kind = "true" if name.startswith("q_true_") else "unrelated"
        for line in open(os.path.join(trace_dir, name)):
            rec = json.loads(line)
            for c in candidates(rec):
                a = c.get("appearance")
                if not a or not a.get("measured") or "sane" not in c:
                    continue
                groups.setdefault((kind, bucket(c)), []).append(a)
                rows.append((kind, name, rec["query"], c))
    ps = [0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]
    for measure in ("correlation", "worst_cell"):
        print("\n%s" % measure)
        print("| candidates | n | min | p1 | p5 | p25 | p50 | p75 | p95 | p99 | max |")
        print("|---|---:|" + "---:|" * 9)
        for key in sorted(groups):
            v = [a.get(measure, -1) for a in groups[key]]
            print("| %s, %s | %d | %s |" % (key[0], key[1], len(v),
                                            " | ".join("%.3f" % pct(v, p) for p in ps)))
    strongest = sorted((r for r in rows if r[0] == "unrelated"
                        and bucket(r[3]) != "geometry accepted"),
                       key=lambda r: -r[3]["appearance"]["correlation"])[:15]
    for kind, name, query, c in strongest:
        a = c["appearance"]
        print("  unrelated %s %s unit %d: corr %.3f worst cell %.2f compared %.2f contrast "
              "%.2f, %d inliers, cells %d, %s" % (name, query, c["unit"], a["correlation"],
                                                  a.get("worst_cell", -1), a["compared"],
                                                  a["contrast"], c["inliers"], c["cells"],
                                c["rejected_by"] or "ACCEPTED (appearance)"))


if __name__ == "__main__":
    main()
