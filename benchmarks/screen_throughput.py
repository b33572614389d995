"""Issue 8: throughput of ``molgate screen`` vs ``chemprop predict`` on the same library, and the
peak memory of a screen of N vs 10 N molecules.

* Library: ``molgate library generate`` (synthetic, building blocks), ``--size`` molecules (100,000).
* Models of the same size: a molgate MTL and a Chemprop MPNN, both hidden 300, depth 3, mean
  aggregation, one 300-unit FFN layer, the same 4 tasks (molgate also with ``--precision bf16``); trained for 1 epoch on a small suite
  (accuracy is not measured here, only speed). A molgate GATE (trunk) model is timed too.
* Chemprop runs with its defaults and with ``--num-workers`` = the screen's workers and batch 1024.
* Both tools run as commands, start-up included, on all CPU cores, one after the other, alternating
  over ``--repeats`` rounds; the table reports the median.
* Memory: peak resident memory of the whole process tree (the screen's workers included), sampled
  every 0.1 s, for ``--size`` and ``--memory-scale`` x ``--size`` molecules.

    cd benchmarks && ../.venv/bin/python screen_throughput.py [--size 100000] [--repeats 1] [--configs ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

from common import WORK, suite_dir, write_result

TASKS = ["boiling_point", "flash_point", "viscosity_298", "dielectric_constant"]
BIN = Path(sys.executable).parent
CONFIGS = ["molgate-mtl", "molgate-gate", "molgate-mtl-no-domain", "molgate-mtl-bf16",
           "molgate-mtl-no-domain-bf16", "chemprop", "chemprop-workers"]


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def timed(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak process-tree RSS (bytes) of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{err[-2000:]}")
    return seconds, peak[0]


def library(size: int) -> Path:
    path = WORK / "screen" / f"library_{size}.smi"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN / "molgate"), "library", "generate", "--size", str(size), "--out", str(path),
                        "--no-progress"], check=True)
    return path


def models() -> dict[str, Path]:
    folder = WORK / "screen"
    data = suite_dir(TASKS) / "suite.parquet"
    out = {}
    for method in ("mtl", "gate"):
        model = folder / f"molgate-{method}"
        if not (model / "config.json").exists():
            subprocess.run([str(BIN / "molgate"), "train", "--data", str(data), "--method", method,
                            "--epochs", "1", "--out", str(model), "--no-progress"], check=True)
        out[method] = model
    chemprop = folder / "chemprop"
    ckpt = next(chemprop.rglob("best*.pt"), None) if chemprop.exists() else None
    if ckpt is None:
        csv = folder / "train.csv"
        pd.read_parquet(data).to_csv(csv, index=False)
        subprocess.run([str(BIN / "chemprop"), "train", "-i", str(csv), "-s", "smiles", "--target-columns",
                        *TASKS, "--epochs", "1", "--warmup-epochs", "0", "--aggregation", "mean", "--message-hidden-dim", "300",
                        "--depth", "3", "--ffn-hidden-dim", "300", "--ffn-num-layers", "1",
                        "-o", str(chemprop)], check=True, stdout=subprocess.DEVNULL)
        ckpt = next(chemprop.rglob("best*.pt"))
    out["chemprop"] = ckpt
    return out


def _clear(target: Path) -> None:
    """No output, summary or unfinished parts of an earlier screen (it would resume instead)."""
    for p in (target, target.with_name(target.name + ".screen.json")):
        p.unlink(missing_ok=True)
    shutil.rmtree(target.with_name(target.name + ".parts"), ignore_errors=True)


def screen_cmd(model: Path, lib: Path, out: Path, workers: int) -> list[str]:
    return [str(BIN / "molgate"), "screen", "--model", str(model), "--library", str(lib), "--out", str(out),
            "--workers", str(workers), "--no-progress"]


def run(size: int, repeats: int, memory_scale: int, workers: int, configs: list[str],
        memory_flags: list[str], result_name: str = "screen_throughput") -> dict:
    lib = library(size)
    csv = lib.with_suffix(".csv")
    if not csv.exists():
        pd.DataFrame({"smiles": lib.read_text().split()}).to_csv(csv, index=False)
    trained = models()
    out = WORK / "screen" / "out"
    out.mkdir(exist_ok=True)
    times: dict[str, list[float]] = {name: [] for name in configs}
    for r in range(repeats):
        for name in times:
            target = out / f"{name}.parquet"
            _clear(target)
            if name.startswith("chemprop"):
                cmd = [str(BIN / "chemprop"), "predict", "-i", str(csv), "-s", "smiles", "--model-paths",
                       str(trained["chemprop"]), "-o", str(out / "chemprop.csv")]
                if name == "chemprop-workers":  # its DataLoader featurises in worker processes
                    cmd += ["--num-workers", str(workers), "-b", "1024"]
            else:
                method = "gate" if name.startswith("molgate-gate") else "mtl"
                cmd = screen_cmd(trained[method], lib, target, workers)
                if "no-domain" in name:
                    cmd.append("--no-domain")
                if "bf16" in name:
                    cmd += ["--precision", "bf16"]
            seconds, _ = timed(cmd)
            times[name].append(seconds)
            print(f"round {r}: {name:22s} {seconds:7.1f} s  ({size / seconds:,.0f} molecules/s)", flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    memory = {}
    for n in ((size, size * memory_scale) if memory_scale else ()):
        target = out / f"memory_{n}.parquet"
        _clear(target)
        seconds, peak = timed(screen_cmd(trained["mtl"], library(n), target, workers) + memory_flags)
        memory[n] = {"seconds": seconds, "peak_rss_mib": peak / 2**20, "molecules_per_second": n / seconds}
        print(f"memory: {n:>9,} molecules: peak {peak / 2**20:,.0f} MiB, {seconds:.0f} s", flush=True)
    big, small = (memory[size * memory_scale], memory[size]) if memory_scale else ({"peak_rss_mib": 0.0},) * 2
    result = {
        "size": size, "repeats": repeats, "workers": workers, "cpus": os.cpu_count(),
        "seconds": times, "median_seconds": median,
        "molecules_per_second": {k: size / v for k, v in median.items()},
        "speedup_vs_chemprop": {k: median["chemprop"] / v for k, v in median.items() if k != "chemprop"},
        "memory": {str(k): v for k, v in memory.items()}, "memory_flags": memory_flags,
        "memory_ratio": big["peak_rss_mib"] / small["peak_rss_mib"] if memory_scale else None,
    }
    lines = ["| tool | median s | molecules/s | vs chemprop predict |", "|---|---|---|---|"]
    for k, v in median.items():
        lines.append(f"| {k} | {v:.1f} | {size / v:,.0f} | {median['chemprop'] / v:.2f}x |")
    lines += [] if not memory_scale else ["", f"peak memory: {size:,} molecules {small['peak_rss_mib']:,.0f} MiB; "
              f"{size * memory_scale:,} molecules {big['peak_rss_mib']:,.0f} MiB "
              f"(ratio {result['memory_ratio']:.2f}; molgate-mtl {' '.join(memory_flags)})"]
    print("\n".join(lines))
    write_result(result_name, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=CONFIGS)
    parser.add_argument("--memory-flags", default="--no-domain --precision bf16",
                        help="screen options of the two memory runs (the fastest, to save time)")
    parser.add_argument("--memory-scale", type=int, default=10, help="0: no memory runs")
    parser.add_argument("--name", default="screen_throughput", help="result file name under results/")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    run(args.size, args.repeats, args.memory_scale, args.workers, args.configs, args.memory_flags.split(),
        args.name)


if __name__ == "__main__":
    main()
