#!/usr/bin/env python3
"""Video matching on real-ish material (issue 10): camera moves over real photographs.

No real video ships in the Debian packages installed here, so the "episodes" are
slow pans and zooms (FFmpeg zoompan) over the photographs of Debian's
plasma-workspace-wallpapers and gnome-backgrounds, two photos per 20 s episode.
Registered: --works episodes. Queries: each episode through the pirate
transformations of tests/e2e/video_segments_test.cc (re-encode at low bitrate
360p, letterbox, logo, burned-in subtitles, mirror, 25 -> 23.976 fps, a 10 s
excerpt inside an unregistered episode), plus unregistered episodes made of other
photos, which must not match.

Prints (1) per transformation: segments found, start/end errors against the truth,
mean PDQ distance; (2) the distribution of frame distances (best of the full
and trimmed views, no mirror) between each query frame and the registered frame
at the same time (true pairs) and between query frames and every frame of the
other episodes (unrelated pairs), as percentiles, against the scan's frame
radius of 40 bits.

  python3 bench/e2e/video_photo_calibration.py --kagami build/app/kagami [--works 6] [--dir D]
"""

import argparse
import glob
import json
import os
import subprocess
import sys


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def photos():
    out = []
    # Plasma wallpapers: one folder per photo, at several sizes; take a landscape one.
    for folder in sorted(glob.glob("/usr/share/wallpapers/*/contents/images")):
        sizes = []
        for p in glob.glob(folder + "/*.jpg") + glob.glob(folder + "/*.png"):
            w, _, h = os.path.splitext(os.path.basename(p))[0].partition("x")
            if w.isdigit() and h.isdigit() and int(w) > int(h):
                sizes.append((abs(int(w) - 1920), p))
        if sizes:
            out.append(min(sizes)[1])
    out += sorted(glob.glob("/usr/share/backgrounds/gnome/*.jpg"))
    return out


def episode(pics, path):
    """20 s, 25 fps, 640x360: 10 s slow zoom-in on one photo, 10 s pan over the next."""
    a, b = pics
    vf_a = ("scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,"
            "zoompan=z='min(1+0.0016*on,1.4)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':"
            "d=250:s=640x360:fps=25,format=yuv420p,setsar=1")
    vf_b = ("scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,"
            "zoompan=z=1.3:x='on*1.2':y='ih/2-(ih/zoom/2)':d=250:s=640x360:fps=25,format=yuv420p,"
            "setsar=1")
    sh(f"ffmpeg -nostdin -v error -y -loop 1 -i '{a}' -loop 1 -i '{b}' -filter_complex "
       f"\"[0]{vf_a},trim=duration=10[a];[1]{vf_b},trim=duration=10[b];[a][b]concat=n=2:v=1[v]\" "
       f"-map '[v]' -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p '{path}'")


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

TRANSFORMS = {
    "reencode-360p": "-vf scale=-2:360 -c:v libx264 -preset veryfast -b:v 300k",
    "letterbox": "-vf \"scale=640:270,pad=640:360:0:45:black\" -c:v libx264 -preset veryfast -crf 28",
    "logo": "-vf \"drawbox=x=iw-150:y=10:w=140:h=50:color=white@0.8:t=fill\" "
            "-c:v libx264 -preset veryfast -crf 28",
    "subtitles": f"-vf \"drawtext=fontfile={FONT}:text='I will never forgive you':"
                 "fontsize=28:fontcolor=white:borderw=2:x=(w-tw)/2:y=h-60\" "
                 "-c:v libx264 -preset veryfast -crf 28",
    "mirror": "-vf hflip -c:v libx264 -preset veryfast -crf 28",
    "fps-23.976": "-vf fps=24000/1001 -c:v libx264 -preset veryfast -crf 28",
}


def kagami_json(kagami, args):
    out = subprocess.run([kagami] + args, check=False, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def popcount_hex(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def frames(kagami, path):
    return [j for j in kagami_json(kagami, ["hash", path]) if j.get("unit") == "frame"]


def best(q, r):
    views_q = [q["pdq"]] + ([q["pdq_trimmed"]] if q.get("pdq_trimmed") else [])
    views_r = [r["pdq"]] + ([r["pdq_trimmed"]] if r.get("pdq_trimmed") else []) + [r["pdq_center"]]
    return min(popcount_hex(a, b) for a in views_q for b in views_r)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kagami", default="build/app/kagami")
    ap.add_argument("--works", type=int, default=6)
    ap.add_argument("--unrelated", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/kagami-video-photo-calibration")
    args = ap.parse_args()
    pics = photos()
    need = 2 * (args.works + args.unrelated)
    if len(pics) < need:
        sys.exit(f"need {need} photos, found {len(pics)} (install plasma-workspace-wallpapers)")
    os.makedirs(args.dir, exist_ok=True)
    data = os.path.join(args.dir, "data")
    subprocess.run(["rm", "-rf", data], check=True)
    works, unrelated = [], []
    for i in range(args.works + args.unrelated):
        path = os.path.join(args.dir, f"ep{i}.mp4")
        if not os.path.exists(path):
            episode(pics[2 * i:2 * i + 2], path)
        (works if i < args.works else unrelated).append(path)
    for i, w in enumerate(works):
        subprocess.run([args.kagami, "--data", data, "register", "--work", f"w{i}", "--title",
                        f"W{i}", w], check=True, capture_output=True)
    rows = []
    queries = []  # (name, path, truth: (work, q_start, q_end, r_start, r_end) or None)
    for i, w in enumerate(works):
        for name, opts in TRANSFORMS.items():
            q = os.path.join(args.dir, f"q{i}-{name}.mp4")
            if not os.path.exists(q):
                sh(f"ffmpeg -nostdin -v error -y -i '{w}' {opts} -pix_fmt yuv420p '{q}'")
            queries.append((name, q, (f"w{i}", 0, 20, 0, 20)))
        # A 10 s excerpt (ref 5-15 s) inside an unregistered episode (at 8-18 s).
        q = os.path.join(args.dir, f"q{i}-excerpt.mp4")
        host = unrelated[i % len(unrelated)]
        if not os.path.exists(q):
            sh(f"ffmpeg -nostdin -v error -y -i '{host}' -ss 5 -t 10 -i '{w}' -filter_complex "
               "\"[0:v]split[h1][h2];[h1]trim=0:8,setpts=PTS-STARTPTS[a];"
               "[1:v]setpts=PTS-STARTPTS,scale=640:360[b];"
               "[h2]trim=8:20,setpts=PTS-STARTPTS[c];[a][b][c]concat=n=3:v=1[v]\" -map '[v]' "
               f"-c:v libx264 -preset veryfast -crf 28 -pix_fmt yuv420p '{q}'")
        queries.append(("excerpt-in-unrelated", q, (f"w{i}", 8, 18, 5, 15)))
    for u in unrelated:
        queries.append(("unregistered", u, None))

    summary = {}
    for name, q, truth in queries:
        segs = [j for j in kagami_json(args.kagami, ["--data", data, "scan", "--format", "jsonl", q])
                if j.get("unit") == "segment"]
        s = summary.setdefault(name, {"n": 0, "found": 0, "false": 0, "err": [], "dist": []})
        s["n"] += 1
        for j in segs:
            if truth and j["work"] == truth[0]:
                s["found"] += 1
                s["err"].append(max(abs(j["start"] - truth[1]), abs(j["end"] - truth[2]),
                                    abs(j["ref_start"] - truth[3]), abs(j["ref_end"] - truth[4])))
                s["dist"].append(j["mean_distance"])
            else:
                s["false"] += 1
    print("| query | queries | segments of the right work | wrong/unrelated segments | "
          "max start/end error (s) | mean PDQ distance |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in summary.items():
        err = f"{max(s['err']):.2f}" if s["err"] else "-"
        dist = f"{sum(s['dist']) / len(s['dist']):.1f}" if s["dist"] else "-"
        print(f"| {name} | {s['n']} | {s['found']} | {s['false']} | {err} | {dist} |")

    # Frame distances: true pairs (same time) and unrelated pairs.
    reg = {f"w{i}": frames(args.kagami, w) for i, w in enumerate(works)}
    true_d, unrelated_d = {}, []
    for name, q, truth in queries:
        if truth is None or name in ("mirror", "excerpt-in-unrelated"):
            continue
        qf = frames(args.kagami, q)
        speed = 1.0
        for f in qf:
            r = min(reg[truth[0]], key=lambda x: abs(x["t"] - f["t"] * speed))
            if abs(r["t"] - f["t"]) <= 0.3:
                true_d.setdefault(name, []).append(best(f, r))
            if name == "reencode-360p":
                for other, rf in reg.items():
                    if other != truth[0]:
                        unrelated_d.extend(best(f, x) for x in rf[::2])
    print()
    print("| pairs | n | p5 | p50 | p95 | max | min | share <= 40 bits |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, d in list(true_d.items()) + [("unrelated (360p queries x other works)", unrelated_d)]:
        share = sum(1 for v in d if v <= 40) / len(d) if d else 0
        print(f"| {name} | {len(d)} | {pct(d, 5)} | {pct(d, 50)} | {pct(d, 95)} | {max(d)} | "
              f"{min(d)} | {share:.3f} |")


if __name__ == "__main__":
    main()
