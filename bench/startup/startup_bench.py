#!/usr/bin/env python3
"""Start-up cost of `kagami`, side by side with peers, in one run.

Usage: bench/startup/startup_bench.py BUILD_DIR [RUNS]
Runs each command RUNS times (default 40), interleaved so that machine load
hits all of them alike, and prints the minimum and median wall time and the
median CPU time (user + sys of the child, from wait4) in milliseconds, plus the
number of shared libraries each binary maps (ldd).
"""
import os
import subprocess
import sys
import time

build = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 40
page = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data",
                    "golden", "wallpaper-flow-360x720.jpg")
build = os.path.abspath(build)
kagami = os.path.join(build, "app", "kagami")
core = os.path.join(build, "app", "kagami-core")
lean = os.path.join(build, "app", "kagami-hash")
png = os.path.join(os.path.dirname(page), "clipart-flask.png")
commands = [
    ("true", ["true"]),
    ("python3 -c pass", ["python3", "-c", "pass"]),
    ("kagami --version", [kagami, "--version"]),
    ("kagami-core --version", [core, "--version"]),
    # The previous single binary linked OpenCV imgcodecs (GDAL and ~120 more
    # libraries) and libavif's codecs; preloading them reproduces that start.
    ("previous: core+preloads --version",
     ["env", "LD_PRELOAD=libopencv_imgcodecs.so.406:libavif.so.15", core, "--version"]),
    # `kagami hash` goes through kagami-hash (app/lean_hash.cc), which links
    # no OpenCV, poppler, libarchive or FFmpeg; kagami-core is the full path.
    ("kagami hash page.jpg", [kagami, "hash", page]),
    ("kagami-hash hash page.jpg", [lean, "hash", page]),
    ("kagami-core hash page.jpg", [core, "hash", page]),
    ("kagami hash page.png", [kagami, "hash", png]),
    ("kagami-core hash page.png", [core, "hash", png]),
]
samples = {name: ([], []) for name, _ in commands}
devnull = os.open(os.devnull, os.O_WRONLY)
for _ in range(runs):
    for name, argv in commands:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execvp(argv[0], argv)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
        assert os.waitstatus_to_exitcode(status) == 0, name
        samples[name][0].append(wall * 1000)
        samples[name][1].append((usage.ru_utime + usage.ru_stime) * 1000)


def libs(path):
    if not os.path.isabs(path):
        return "-"
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return str(len([l for l in out.splitlines() if "=>" in l or l.strip().startswith("/")]))


print("%-33s %9s %9s %9s %6s" % ("command", "min ms", "median ms", "cpu ms", "libs"))
for name, argv in commands:
    wall, cpu = samples[name]
    wall.sort()
    cpu.sort()
    print("%-33s %9.1f %9.1f %9.1f %6s" % (name, wall[0], wall[len(wall) // 2], cpu[len(cpu) // 2],
                                            libs(argv[0])))
