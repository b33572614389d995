"""Issue 8: the same screen on a local Ray cluster (``--engine ray``) and in one process
(``--engine local``): wall time of each and whether the outputs are identical.

Uses the throughput benchmark's GATE model and synthetic library (``screen_throughput.py`` builds
them). Ray starts a local cluster inside the command (``ray.init()``), so its start-up is counted.

    cd benchmarks && ../.venv/bin/python screen_ray.py [--size 20000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

import pandas as pd

from common import RESULTS, WORK, write_result
from screen_throughput import library, models, screen_cmd, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--where", default="boiling_point > 450 and viscosity_298 < 1")
    args = parser.parse_args()
    lib = library(args.size)
    model = models()["gate"]
    out = WORK / "screen" / "ray"
    out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for engine in ("local", "ray"):
        target = out / f"{engine}.parquet"
        for p in out.glob(f"{engine}.parquet*"):  # a fresh run, not a resumed one
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        cmd = screen_cmd(model, lib, target, args.workers) + ["--engine", engine, "--where", args.where]
        seconds, peak = timed(cmd)
        summary = json.loads(target.with_name(target.name + ".screen.json").read_text())["summary"]
        runs[engine] = {"seconds": seconds, "molecules_per_second": args.size / seconds,
                        "peak_rss_mib": peak / 2**20, "rows": len(pd.read_parquet(target)),
                        "summary": {k: v for k, v in summary.items() if isinstance(v, (int, float, str))}}
        print(f"{engine:5s}: {seconds:6.1f} s, {runs[engine]['rows']} hits, peak {peak / 2**20:,.0f} MiB", flush=True)
    local, ray = (pd.read_parquet(out / f"{e}.parquet") for e in ("local", "ray"))
    identical = local.equals(ray)
    max_abs = float((local.select_dtypes("number") - ray.select_dtypes("number")).abs().max().max()) \
        if local.shape == ray.shape and list(local.columns) == list(ray.columns) else None
    lines = [f"{args.size:,} molecules, `--where \"{args.where}\"`, {args.workers} workers", "",
             "| engine | seconds | molecules/s | hits | peak RSS MiB |", "|---|---|---|---|---|"]
    lines += [f"| {e} | {r['seconds']:.1f} | {r['molecules_per_second']:,.0f} | {r['rows']} | "
              f"{r['peak_rss_mib']:,.0f} |" for e, r in runs.items()]
    lines += ["", f"outputs identical (every row and column): {identical}; largest absolute difference: {max_abs}"]
    (RESULTS / "screen_ray.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    write_result("screen_ray", {"size": args.size, "workers": args.workers, "where": args.where, "runs": runs,
                                "identical": identical, "max_abs_difference": max_abs})


if __name__ == "__main__":
    main()
