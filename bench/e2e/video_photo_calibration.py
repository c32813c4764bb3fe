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

Then (3) a large unrelated set: camera moves over every other photo of those
packages and a slideshow of openclipart-png drawings (flattened on white), as
uploads that must not match (scanned: 0 segments expected), and the PDQ
distance distribution of their frames against the registered episodes' frames
(best over every query view x every registered view, as the index search
sees them) and among themselves (different source pictures, full view only).
opencv-doc and scikit-image images are never used (reserved for outside
measurement).

--kagami-before B runs the scan table and distributions with a second binary
(e.g. the previous commit's) in the same run, each with its own data dir.

  python3 bench/e2e/video_photo_calibration.py --kagami build/app/kagami \
      [--kagami-before OLD] [--works 6] [--clipart 3000] [--dir D]
"""

import argparse
import glob
import hashlib
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


QUERY_VIEWS = ("pdq", "pdq_mirror", "pdq_trimmed", "pdq_trimmed_mirror", "pdq_core",
               "pdq_core_mirror")
REF_VIEWS = ("pdq", "pdq_trimmed", "pdq_center", "pdq_core")


QUALITY = {"pdq": "quality", "pdq_mirror": "quality", "pdq_trimmed": "trimmed_quality",
           "pdq_trimmed_mirror": "trimmed_quality", "pdq_center": "center_quality",
           "pdq_core": "core_quality", "pdq_core_mirror": "core_quality"}
MIN_QUALITY = 30  # VideoOptions::min_query_quality and VideoStore::kMinIndexQuality
NONE = 999  # no view pair that a scan would search


def views(frame, names):
    """The views a scan searches (query) or indexes (registered): quality >= 30."""
    return [int(frame[k], 16) for k in names
            if frame.get(k) and frame.get(QUALITY[k], 100) >= MIN_QUALITY]


def best_int(qv, rv):
    return min(((a ^ b).bit_count() for a in qv for b in rv), default=NONE)


def best(q, r, mirror=True):
    qn = QUERY_VIEWS if mirror else tuple(k for k in QUERY_VIEWS if "mirror" not in k)
    return best_int(views(q, qn), views(r, REF_VIEWS))


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] if s else float("nan")


def photo_moves(pic, path):
    """24 s at 5 fps, 640x360: a zoom on the centre, a pan, a zoom on the top-left quarter."""
    base = "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,"
    moves = [
        "zoompan=z='min(1+0.004*on,1.5)':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=40:s=640x360:fps=5",
        "zoompan=z=1.4:x='on*8':y='ih/2-(ih/zoom/2)':d=40:s=640x360:fps=5",
        "zoompan=z='min(1.6+0.01*on,2.2)':x='iw/8':y='ih/8':d=40:s=640x360:fps=5",
    ]
    chains = ";".join(f"[{i}]{base}{m},format=yuv420p,setsar=1,trim=duration=8[m{i}]"
                      for i, m in enumerate(moves))
    inputs = " ".join(f"-loop 1 -i '{pic}'" for _ in moves)
    sh(f"ffmpeg -nostdin -v error -y {inputs} -filter_complex \"{chains};"
       f"[m0][m1][m2]concat=n=3:v=1[v]\" -map '[v]' -c:v libx264 -preset veryfast -crf 23 "
       f"-pix_fmt yuv420p '{path}'")


def clipart_slideshow(pngs, path):
    """One drawing per second (2 fps), flattened on white, fit into 640x360."""
    lst = path + ".txt"
    with open(lst, "w") as f:
        for p in pngs + pngs[-1:]:
            f.write(f"file '{p}'\nduration 1\n")
    sh(f"ffmpeg -nostdin -v error -y -f concat -safe 0 -i '{lst}' -vf \"scale=640:360:"
       "force_original_aspect_ratio=decrease,format=rgba,pad=640:360:-1:-1:color=black@0,negate,"
       "premultiply=inplace=1,negate,format=yuv420p\" -r 2 -c:v libx264 -preset veryfast -crf 23 "
       f"'{path}'")


def clipart(n):
    """n drawings spread over the collection, byte-identical copies (the same
    drawing filed under two names) counted once."""
    files = []
    for root, _, names in os.walk("/usr/share/openclipart/png"):
        files += [os.path.join(root, x) for x in names if x.endswith(".png")]
    files.sort()
    seen, unique = set(), []
    for f in files:
        with open(f, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            unique.append(f)
    if not unique or n <= 0:
        return []
    step = max(1, len(unique) // n)
    return unique[::step][:n]


def summary_row(label, d, cols):
    cells = []
    for c in cols:
        if c == "n":
            cells.append(str(len(d)))
        elif c == "min":
            cells.append(str(min(d)) if d else "-")
        elif c == "max":
            cells.append(str(max(d)) if d else "-")
        elif c.startswith("p"):
            cells.append(str(pct(d, float(c[1:]))) if d else "-")
        elif c.startswith("<="):
            lim = int(c[2:])
            cells.append(f"{sum(1 for v in d if v <= lim) / len(d):.4f}" if d else "-")
    return f"| {label} | " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kagami", default="build/app/kagami")
    ap.add_argument("--kagami-before", default="", help="a second binary measured in the same run")
    ap.add_argument("--works", type=int, default=6)
    ap.add_argument("--unrelated", type=int, default=3)
    ap.add_argument("--clipart", type=int, default=3000, help="openclipart drawings (0: none)")
    ap.add_argument("--dir", default="/tmp/kagami-video-photo-calibration")
    args = ap.parse_args()
    pics = photos()
    need = 2 * (args.works + args.unrelated)
    if len(pics) < need:
        sys.exit(f"need {need} photos, found {len(pics)} (install plasma-workspace-wallpapers)")
    os.makedirs(args.dir, exist_ok=True)
    works, unrelated = [], []
    for i in range(args.works + args.unrelated):
        path = os.path.join(args.dir, f"ep{i}.mp4")
        if not os.path.exists(path):
            episode(pics[2 * i:2 * i + 2], path)
        (works if i < args.works else unrelated).append(path)
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
    # The large unrelated set: every photo not in a registered episode, moved
    # over (8 photos per upload), and openclipart drawings (500 per upload).
    large = []  # (path, source id of each second: function t -> id)
    spare = pics[2 * args.works:]
    for g in range(0, len(spare), 8):
        path = os.path.join(args.dir, f"photos{g // 8}.mp4")
        if not os.path.exists(path):
            parts = []
            for k, pic in enumerate(spare[g:g + 8]):
                part = os.path.join(args.dir, f"photo{g + k}.mp4")
                if not os.path.exists(part):
                    photo_moves(pic, part)
                parts.append(part)
            lst = path + ".txt"
            with open(lst, "w") as f:
                f.writelines(f"file '{x}'\n" for x in parts)
            sh(f"ffmpeg -nostdin -v error -y -f concat -safe 0 -i '{lst}' -c copy '{path}'")
        large.append((path, lambda t, g=g: ("photo", g + int(t // 24))))
    # (Pairs of frames from the same or neighbouring pictures are left out of
    # the "among itself" distribution: a frame sampled at a cut may show
    # either side.)
    drawings = clipart(args.clipart)
    for c in range(0, len(drawings), 500):
        path = os.path.join(args.dir, f"clipart{c // 500}-{args.clipart}u.mp4")
        if not os.path.exists(path):
            clipart_slideshow(drawings[c:c + 500], path)
        large.append((path, lambda t, c=c: ("clipart", c + int(t))))

    binaries = [("after", args.kagami)] + ([("before", args.kagami_before)]
                                           if args.kagami_before else [])
    for label, kagami in binaries:
        data = os.path.join(args.dir, f"data-{label}")
        subprocess.run(["rm", "-rf", data], check=True)
        for i, w in enumerate(works):
            subprocess.run([kagami, "--data", data, "register", "--work", f"w{i}", "--title",
                            f"W{i}", w], check=True, capture_output=True)
        summary = {}
        for name, q, truth in queries + [("large-unrelated", p, None) for p, _ in large]:
            segs = [j for j in kagami_json(kagami, ["--data", data, "scan", "--format", "jsonl", q])
                    if j.get("unit") == "segment"]
            s = summary.setdefault(name, {"n": 0, "found": 0, "false": 0, "err": [], "dist": []})
            s["n"] += 1
            for j in segs:
                if truth and j["work"] == truth[0]:
                    s["found"] += 1
                    s["err"].append(max(abs(j["start"] - truth[1]), abs(j["end"] - truth[2]),
                                        abs(j["ref_start"] - truth[3]),
                                        abs(j["ref_end"] - truth[4])))
                    s["dist"].append(j["mean_distance"])
                else:
                    s["false"] += 1
        print(f"\n### {label}: {kagami}\n")
        print("| query | queries | segments of the right work | wrong/unrelated segments | "
              "max start/end error (s) | mean PDQ distance |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, s in summary.items():
            err = f"{max(s['err']):.2f}" if s["err"] else "-"
            dist = f"{sum(s['dist']) / len(s['dist']):.1f}" if s["dist"] else "-"
            print(f"| {name} | {s['n']} | {s['found']} | {s['false']} | {err} | {dist} |")

        # Frame distances: true pairs (same time), unrelated pairs.
        reg = {f"w{i}": frames(kagami, w) for i, w in enumerate(works)}
        reg_views = {k: [views(x, REF_VIEWS) for x in v] for k, v in reg.items()}
        true_d, unrelated_d = {}, []
        for name, q, truth in queries:
            if truth is None or name in ("mirror", "excerpt-in-unrelated"):
                continue
            qf = frames(kagami, q)
            for f in qf:
                r = min(reg[truth[0]], key=lambda x: abs(x["t"] - f["t"]))
                if abs(r["t"] - f["t"]) <= 0.3:
                    true_d.setdefault(name, []).append(best(f, r, mirror=False))
                if name == "reencode-360p":
                    qv = views(f, QUERY_VIEWS)
                    for other, rv in reg_views.items():
                        if other != truth[0]:
                            unrelated_d.extend(best_int(qv, x) for x in rv)
        # The large set against every registered frame, and among itself.
        large_d, among_d, large_frames, low_q = [], [], [], 0
        for path, source in large:
            for f in frames(kagami, path):
                if max(f.get("quality", 0), f.get("trimmed_quality", 0)) < 30:
                    low_q += 1  # not searched by a scan (VideoOptions::min_query_quality)
                    continue
                large_frames.append((source(f["t"]), int(f["pdq"], 16)))
                qv = views(f, QUERY_VIEWS)
                for rv_list in reg_views.values():
                    large_d.extend(best_int(qv, rv) for rv in rv_list)
        for i in range(len(large_frames)):
            (ki, si), hi = large_frames[i]
            among_d.extend((hi ^ hj).bit_count() for (kj, sj), hj in large_frames[i + 1:]
                           if kj != ki or abs(sj - si) > 1)
        cols = ["n", "p5", "p50", "p95", "max", "min", "<=40", "<=48", "<=56"]
        print()
        print(f"(true pairs: best over the views a scan searches, quality >= {MIN_QUALITY}; "
              f"{NONE} = no searchable view pair)")
        print("| true pairs | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        for name, d in true_d.items():
            print(summary_row(name, d, cols))
        cols = ["n", "min", "p0.01", "p0.1", "p1", "p5", "p50", "<=40", "<=48", "<=56", "<=64"]
        print()
        print("| unrelated pairs | " + " | ".join(cols) + " |")
        print("|---|" + "---:|" * len(cols))
        print(summary_row("360p queries x other episodes (all views)", unrelated_d, cols))
        print(summary_row(f"large set ({len(large_frames)} frames) x episodes (all views)",
                          large_d, cols))
        print(summary_row("large set among itself (different pictures, full view)", among_d, cols))
        print(f"\n(large set: {len(large_frames)} searched frames, {low_q} below quality 30)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
