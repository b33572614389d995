"""GATE ``trunk`` vs ``separate`` sharing on the 3-task file: accuracy and wall time, same split.

Uses the file and split written by ``three_task_baselines.py`` (density, refractive_index,
hvap_298; 4,000 molecules; scaffold split seed 0) so the numbers sit next to its STL and MTL.

    python benchmarks/gate_sharing_accuracy.py [--epochs 40]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from common import RESULTS, WORK, write_result
from molgate import api
from molgate.methods import GateConfig


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=40)
    a = p.parse_args()
    work = WORK / "three_task"
    data, split_file = work / "three_task.csv", work / "split.json"
    if not split_file.exists():
        raise SystemExit("run three_task_baselines.py first (it writes the file and split)")
    results, seconds = {}, {}
    for sharing in ("trunk", "separate"):
        t = time.perf_counter()
        r = api.train(data, method="gate", split_file=split_file, epochs=a.epochs,
                      out=work / f"gate_{sharing}", progress=False, gate=GateConfig(sharing=sharing))
        results[sharing] = api.evaluate(r.model_dir, plots=False)
        seconds[sharing] = time.perf_counter() - t
        print(sharing, {t_: round(m["rmse"], 4) for t_, m in results[sharing].items()},
              f"{seconds[sharing]:.0f} s", flush=True)
    base = json.loads((RESULTS / "three_task_baselines.json").read_text())["metrics"]
    lines = ["| task | STL RMSE | MTL RMSE | GATE trunk RMSE | GATE separate RMSE | "
             "STL r | MTL r | trunk r | separate r |", "|---|---|---|---|---|---|---|---|---|"]
    for task in results["trunk"]:
        rm = [base["stl"][task]["rmse"], base["mtl"][task]["rmse"], results["trunk"][task]["rmse"],
              results["separate"][task]["rmse"]]
        pr = [base["stl"][task]["pearson"], base["mtl"][task]["pearson"],
              results["trunk"][task]["pearson"], results["separate"][task]["pearson"]]
        lines.append(f"| {task} | " + " | ".join(f"{v:.4g}" for v in rm + pr) + " |")
    lines.append(f"\nwall time (train + evaluate): trunk {seconds['trunk']:.0f} s, "
                 f"separate {seconds['separate']:.0f} s")
    (RESULTS / "gate_sharing_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    write_result("gate_sharing_accuracy", {"epochs": a.epochs, "metrics": results, "seconds": seconds})
    return 0


if __name__ == "__main__":
    sys.exit(main())
