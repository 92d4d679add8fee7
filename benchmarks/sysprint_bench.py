#!/usr/bin/env python3
"""Side-by-side throughput of our sysprint/format library and the reference Python tools (sysflow-tools 0.6.1).

Usage: benchmarks/sysprint_bench.py [--ref-venv DIR] [--records N] [--quick] [--no-build] [--ref-big-modes M,...]

Runs, on the same files in one run:
  * ours: decode only (`sysflow stats`), flattened (`sysflow stats --flatten`), and `sysprint -o json|flatjson|csv|str`
    (the `sysprint` binary; best of 3 wall-clock runs, or of as many as fill a second, up to 20; output to
    /dev/null, CSV with `-w /dev/null` on both sides: the printers, not the file system, are measured), each mode
    with the default threads and with `SYSPRINT_THREADS=1` (stage `<mode> 1T`: everything on one core);
  * the reference: `SFReader` iteration, `FlattenedSFReader` iteration (library level, start-up excluded), and its
    `sysprint` in every mode (one run each; start-up included, as users see it).
Inputs: the largest shared traces (when ../shared is present) and generated traces (`sysflow generate`, seed 1):
a 200,000-record trace that both sides read, and N records (default 5,000,000). On the N-record trace the reference
runs the modes of --ref-big-modes (default: its fast flat modes, flatjson and csv, ~5 minutes each); the other
stages compare with its rate on the 200,000-record trace (its JSON mode would need ~20 minutes, its library-level
reading ~2 minutes per pass). Writes benchmarks/runs/<date>/raw.csv and prints a Markdown table.
"""
import argparse, csv, datetime, os, platform, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
MODES = ["json", "flatjson", "csv", "str"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def best_of(n, fn):
    """Best of n runs; short runs (small traces, where a millisecond of jitter is several percent) are repeated
    until they add up to a second (at most 20 runs)."""
    best, total, runs = None, 0.0, 0
    while runs < n or (total < 1.0 and runs < 20):
        t = time.perf_counter()
        fn()
        d = time.perf_counter() - t
        best = d if best is None else min(best, d)
        total += d
        runs += 1
    return best


def count_rows(sysflow, trace):
    out = subprocess.run([sysflow, "stats", "--flatten", trace], check=True, capture_output=True, text=True).stdout
    return int(out.split(": ")[1].split(" ")[0])


def count_records(sysflow, trace):
    out = subprocess.run([sysflow, "stats", trace], check=True, capture_output=True, text=True).stdout
    return int(out.split(": ")[1].split(" ")[0])


def ours(sysflow, trace, runs):
    sysprint = os.path.join(os.path.dirname(sysflow), "sysprint")
    res = {}
    recs, rows = count_records(sysflow, trace), count_rows(sysflow, trace)
    devnull = open(os.devnull, "w")
    res["decode"] = recs / best_of(runs, lambda: run([sysflow, "stats", trace], stdout=devnull))
    res["flatten"] = rows / best_of(runs, lambda: run([sysflow, "stats", "--flatten", trace], stdout=devnull))
    for m in MODES:
        for stage, env in [(m, os.environ), (f"{m} 1T", dict(os.environ, SYSPRINT_THREADS="1"))]:
            if m == "csv":
                f = lambda env=env: run([sysprint, "-o", "csv", "-w", os.devnull, trace],
                                        stdout=devnull, env=env)
            else:
                f = lambda m=m, env=env: run([sysprint, "-o", m, trace], stdout=devnull,
                                             stdin=subprocess.DEVNULL, env=env)
            res[stage] = rows / best_of(runs, f)
    return recs, rows, res


REF_LIB = r"""
import sys, time
from sysflow.reader import SFReader, FlattenedSFReader
p = sys.argv[1]
t = time.perf_counter(); n = sum(1 for _ in SFReader(p)); d1 = time.perf_counter() - t
t = time.perf_counter(); m = sum(1 for _ in FlattenedSFReader(p)); d2 = time.perf_counter() - t
print(n / d1, m / d2)
"""


def reference(venv, trace, rows, modes=MODES, library=True):
    py, sp = os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "sysprint")
    res = {}
    if library:
        out = subprocess.run([py, "-c", REF_LIB, trace], check=True, capture_output=True, text=True).stdout.split()
        res["decode"], res["flatten"] = float(out[0]), float(out[1])
    devnull = open(os.devnull, "w")
    env = dict(os.environ, TZ="UTC")
    for m in modes:
        cmd = [sp, "-o", m] + (["-w", os.devnull] if m == "csv" else []) + [trace]
        t = time.perf_counter()
        subprocess.run(cmd, stdout=devnull, stderr=devnull, stdin=subprocess.DEVNULL, env=env, check=True)
        res[m] = rows / (time.perf_counter() - t)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref-venv", default=os.path.join(ROOT, ".venv-ref"))
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--quick", action="store_true", help="1 run each, 500k generated records")
    ap.add_argument("--no-build", action="store_true", help="use the release binary as it is")
    ap.add_argument("--ref-big-modes", default="flatjson,csv",
                    help="modes the reference runs on the N-record trace itself (comma-separated; '' for none)")
    a = ap.parse_args()
    runs = 1 if a.quick else 3
    n = 500_000 if a.quick else a.records
    if not a.no_build:
        run(["cargo", "build", "--release", "-q", "-p", "sysflow-cli", "--bin", "sysflow", "--bin", "sysprint"], cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    sysflow = os.path.join(target, "release", "sysflow")
    work = os.path.join(ROOT, "benchmarks", "work")
    os.makedirs(work, exist_ok=True)
    big, small = os.path.join(work, f"gen-{n}.sf"), os.path.join(work, "gen-200000.sf")
    for path, count in [(big, n), (small, 200_000)]:
        if not os.path.exists(path):
            run([sysflow, "generate", "-n", str(count), "-w", path], stderr=subprocess.DEVNULL)
    traces = []
    for rel in ["sf-apis/pynb/data/attacks/express/mon.1531776742.sf", "sf-processor/resources/traces/1621959914",
                "sf-processor/resources/traces/k8s_small.sf"]:
        p = os.path.join(SHARED, "traces", rel)
        if os.path.exists(p):
            traces.append((rel, p, p))
        else:
            print(f"note: {p} not found (../shared absent); skipping", file=sys.stderr)
    traces.append(("generated, 200,000 records (the same file on both sides)", small, small))
    big_modes = [m for m in a.ref_big_modes.split(",") if m]
    traces.append((f"generated ({n:,} records; reference: {', '.join(big_modes) or 'no mode'} on the same file, "
                   "the rest on the 200,000-record trace)", big, small))
    have_ref = os.path.exists(os.path.join(a.ref_venv, "bin", "sysprint"))
    if not have_ref:
        print(f"note: reference not found in {a.ref_venv}; run scripts/test.sh once to install it", file=sys.stderr)
    date = datetime.date.today().isoformat()
    outdir = os.path.join(ROOT, "benchmarks", "runs", f"{date}-{platform.node() or 'host'}")
    os.makedirs(outdir, exist_ok=True)
    rows_out = []
    ref_cache = {}
    print("| trace | stage | ours (records/s) | reference (records/s) | speed-up |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, ours_path, ref_path in traces:
        recs, rows, mine = ours(sysflow, ours_path, runs)
        ref = {}
        if have_ref:
            if ref_path not in ref_cache:
                ref_cache[ref_path] = reference(a.ref_venv, ref_path, count_rows(sysflow, ref_path))
            ref = dict(ref_cache[ref_path])
            if ours_path != ref_path and big_modes:
                ref.update(reference(a.ref_venv, ours_path, rows, big_modes, library=False))
        for stage in ["decode", "flatten"] + [s for m in MODES for s in (m, f"{m} 1T")]:
            r = ref.get(stage.split(" ")[0] if stage.endswith(" 1T") else stage)
            sp = f"{mine[stage] / r:,.0f}×" if r else "–"
            print(f"| {name} | {stage} | {mine[stage]:,.0f} | {f'{r:,.0f}' if r else '–'} | {sp} |")
            rows_out.append([name, stage, round(mine[stage]), round(r) if r else "", recs, rows])
        sys.stdout.flush()
    with open(os.path.join(outdir, "raw.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trace", "stage", "ours_records_per_s", "reference_records_per_s", "records", "rows"])
        w.writerows(rows_out)
    print(f"\nraw data: {os.path.relpath(outdir, ROOT)}/raw.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
