"""Run a benchmark: data, one saved split per (split type, seed), every method on it, resumable.

Splits are made once (balanced per task, see :mod:`molgate.data.splits`) and then capped with
``max_per_task`` training labels per task, sampled per seed from the training part only; validation
and test stay whole. The capped split is saved (``OUT/splits``) and every method, Chemprop
included, reads that same file.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from tqdm.auto import tqdm

from molgate.benchmark.plan import CHEMPROP_METHODS, BenchmarkConfig, Job, jobs
from molgate.benchmark.runners import run_chemprop, run_molgate
from molgate.data.splits import Split, cap_train_per_task, load_split, make_split, save_split
from molgate.data.suite import build_suite, resolve_tasks
from molgate.data.table import MoleculeTable, read_table
from molgate.evaluate.metrics import task_metrics

logger = logging.getLogger("molgate")


def prepare_data(config: BenchmarkConfig, out: Path) -> Path:
    """The table the benchmark trains on: ``config.data`` or a fresh suite build in ``OUT/suite``."""
    if config.data:
        return Path(config.data)
    suite = out / "suite"
    if not (suite / "suite.parquet").exists():
        build_suite(config.tasks, suite, progress=False)
    return suite / "suite.parquet"


def task_names(config: BenchmarkConfig) -> list[str] | None:
    if isinstance(config.tasks, str):
        return list(resolve_tasks(config.tasks))
    return list(config.tasks)


def split_for(table: MoleculeTable, kind: str, seed: int, config: BenchmarkConfig, out: Path
              ) -> tuple[Path, Split]:
    path = out / "splits" / f"{kind}_seed{seed}.json"
    if path.exists():
        return path, load_split(path, table)
    split = cap_train_per_task(table, make_split(table, kind, seed), config.max_per_task, seed)
    save_split(split, table, path)
    return path, split


def run_job(job: Job, config: BenchmarkConfig, table: MoleculeTable, data_file: Path, out: Path) -> dict:
    split_file, split = split_for(table, job.split, job.seed, config, out)
    folder = job.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if job.method in CHEMPROP_METHODS:
        preds = run_chemprop(job, config, table, split, folder)
    else:
        preds = run_molgate(job, config, table, data_file, split_file, split, folder)
    seconds = time.perf_counter() - start
    preds.to_csv(folder / "test_predictions.csv", index=False)
    metrics = {t: task_metrics(g[["y_true"]].to_numpy(), g[["y_pred"]].to_numpy(), [t])[t]
               for t, g in preds.groupby("task", sort=False)}
    train_counts = dict(zip(table.tasks, table.mask[split.train].sum(0).tolist()))
    result = {"split": job.split, "seed": job.seed, "method": job.method, "seconds": seconds,
              "metrics": metrics, "train_labels": train_counts}
    tmp = job.result_file(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(job.result_file(out))  # the result appears whole or not at all
    return result


def run_benchmark(config: BenchmarkConfig, out: str | Path, progress: bool = True) -> list[dict]:
    """Run every job not yet done; returns all results of this configuration."""
    out = Path(out)
    config.save_or_check(out)
    data_file = prepare_data(config, out)
    table, rejects = read_table(data_file, targets=task_names(config))
    if rejects:
        raise ValueError(f"{data_file} has {len(rejects)} invalid rows")
    todo = [j for j in jobs(config) if not j.done(out)]
    done = len(jobs(config)) - len(todo)
    bar = tqdm(todo, desc="benchmark", unit="job", disable=not progress, initial=0)
    logger.info("benchmark: %d job(s), %d already done, %d to run", done + len(todo), done, len(todo))
    for job in bar:
        bar.set_postfix_str(f"{job.split} seed {job.seed} {job.method}")
        result = run_job(job, config, table, data_file, out)
        logger.info("done %s seed %d %s in %.0f s", job.split, job.seed, job.method, result["seconds"])
    return finished_results(config, out)


def finished_results(config: BenchmarkConfig, out: str | Path) -> list[dict]:
    """The results of ``config``'s jobs that have finished in ``out``."""
    out = Path(out)
    return [json.loads(j.result_file(out).read_text()) for j in jobs(config) if j.done(out)]


def complete_seeds(results: list[dict], methods) -> list[dict]:
    """Only the (split, seed) groups where every one of ``methods`` finished, and only those
    methods: means and paired tests of a report in progress then compare like with like."""
    methods = set(methods)
    have: dict[tuple, set] = {}
    for r in results:
        have.setdefault((r["split"], r["seed"]), set()).add(r["method"])
    keep = {key for key, done in have.items() if methods <= done}
    return [r for r in results if (r["split"], r["seed"]) in keep and r["method"] in methods]
