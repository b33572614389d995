"""``molgate benchmark --quick``: every method on one saved split, resumable, the papers' tables."""

import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from molgate.benchmark.plan import BenchmarkConfig, Job, expand_methods
from molgate.benchmark.report import ablation_lines, improvement_over_stl, paired_tests, ranks, results_frame
from molgate.cli.main import main
from molgate.data.splits import load_split
from molgate.methods import GateConfig
from molgate.data.table import read_table


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["benchmark", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out


def test_quick_benchmark_writes_report_and_results(quick):
    report = (quick / "report.md").read_text()
    for heading in ("(a) Pearson r", "No. 1st", "Avg. rank", "(b) test RMSE", "(c) % RMSE improvement",
                    "negative transfer", "(d) paired comparison", "(e) parity plots", "(f) test counts",
                    "worst-predicted", "Goals (GATE)", "vs Chemprop MTL", "Total job time"):
        assert heading in report, heading
    assert "capped at 150" in report
    results = json.loads((quick / "results.json").read_text())["results"]
    methods = {r["method"] for r in results}
    assert methods == {"stl", "mtl", "gate", "chemprop-stl", "chemprop-mtl"}
    for r in results:
        assert set(r["metrics"]) == {"surface_tension_298", "viscosity_298"}
        assert set(r["metrics"]["viscosity_298"]) == {"n", "rmse", "mae", "r2", "pearson"}
    assert (quick / "improvement_scaffold.png").exists() and (quick / "parity_scaffold_gate.png").exists()


def test_every_method_is_scored_on_the_same_test_molecules(quick):
    table, _ = read_table(quick / "suite" / "suite.parquet")
    split = load_split(quick / "splits" / "scaffold_seed0.json", table)
    expected = {table.smiles[i] for i in split.test}
    for method in ("stl", "mtl", "gate", "chemprop-stl", "chemprop-mtl"):
        preds = pd.read_csv(Job("scaffold", 0, method).folder(quick) / "test_predictions.csv")
        assert set(preds["smiles"]) == expected, method
    # chemprop was given exactly our capped training molecules
    cp = quick / "runs" / "scaffold" / "seed0" / "chemprop-mtl" / "chemprop_all"
    rows = pd.read_csv(cp / "data.csv")["smiles"]
    given = json.loads((cp / "splits.json").read_text())[0]
    assert {rows[i] for i in given["train"]} == {table.smiles[i] for i in split.train}


def test_rerun_skips_finished_jobs_and_redoes_a_missing_one(quick):
    files = {m: Job("scaffold", 0, m).result_file(quick) for m in ("stl", "mtl", "gate")}
    stamps = {m: f.stat().st_mtime_ns for m, f in files.items()}
    files["mtl"].unlink()
    start = time.perf_counter()
    assert main(["benchmark", "--quick", "--methods", "stl", "mtl", "gate", "--out", str(quick),
                 "--no-progress"]) == 0
    assert time.perf_counter() - start < 60
    assert files["stl"].stat().st_mtime_ns == stamps["stl"]
    assert files["gate"].stat().st_mtime_ns == stamps["gate"]
    assert files["mtl"].exists()


def test_other_settings_in_the_same_folder_are_refused(quick, capsys):
    assert main(["benchmark", "--quick", "--epochs", "5", "--out", str(quick), "--no-progress"]) == 2
    assert "other settings (epochs)" in capsys.readouterr().err


def test_methods_expand_and_unknown_is_an_error():
    assert expand_methods(["stl", "chemprop"]) == ("stl", "chemprop-stl", "chemprop-mtl")
    with pytest.raises(ValueError, match="unknown method 'svm'"):
        BenchmarkConfig(methods=("svm",))


def test_ranks_improvement_and_paired_test_on_known_numbers():
    results = []
    for seed in range(6):
        for method, rmse, r in (("stl", 2.0, 0.80), ("mtl", 2.2, 0.85), ("gate", 1.0 + 0.01 * seed, 0.9)):
            results.append({"split": "scaffold", "seed": seed, "method": method,
                            "metrics": {"a": {"n": 10, "rmse": rmse, "mae": rmse, "r2": 0.5, "pearson": r}}})
    frame = results_frame(results)
    mean = frame.groupby(["task", "method"])["pearson"].mean().unstack()
    assert ranks(mean).loc["a"].to_dict() == {"gate": 1.0, "mtl": 2.0, "stl": 3.0}
    imp = improvement_over_stl(frame.groupby(["task", "method"])["rmse"].mean().unstack())
    assert imp.loc["a", "mtl"] == pytest.approx(-10.0)
    assert imp.loc["a", "gate"] == pytest.approx(100 * (2 - 1.025) / 2)
    tests = {t["baseline"]: t for t in paired_tests(frame, "gate")}
    assert tests["stl"]["gate_better"] == 6 and tests["stl"]["p_value"] == pytest.approx(0.03125)
    assert np.isclose(tests["mtl"]["median_relative_rmse_change_%"], (1.025 / 2.2 - 1) * 100)


def test_goal_check_on_known_numbers():
    from molgate.benchmark.report import goal_check

    pearson = pd.DataFrame({"stl": [0.8, 0.9, 0.7], "gate": [0.9, 0.95, 0.6], "chemprop-mtl": [0.85, 0.9, 0.8]},
                           index=["a", "b", "c"])
    rmse = pd.DataFrame({"stl": [2.0, 1.0, 3.0], "gate": [1.0, 0.5, 3.3], "chemprop-mtl": [2.0, 1.0, 3.0]},
                        index=["a", "b", "c"])
    goals = goal_check(pearson, rmse)
    assert goals["gate_first_in_pearson"] == 2 and goals["tasks"] == 3
    assert goals["gate_average_rank"] == pytest.approx((1 + 1 + 3) / 3)
    assert goals["gate_negative_transfer_tasks"] == ["c"]
    assert goals["gate_rmse_vs_chemprop_mtl_percent"] == pytest.approx((-50 - 50 + 10) / 3)


def test_sweep_chooses_gate_settings_on_validation_only(tmp_path, quick):
    from molgate import api
    from molgate.benchmark.sweep import VARIANTS, variant_config
    from molgate.methods import GateConfig

    out = tmp_path / "sweep"
    api.benchmark(quick=True, sweep=True, methods=["gate"], out=out, progress=False,
                  data=str(quick / "suite" / "suite.parquet"))
    scores = [json.loads((out / "sweep" / f"variant{i}.json").read_text()) for i in range(len(VARIANTS))]
    best = min(scores, key=lambda s: s["val_loss"])
    chosen = json.loads((out / "benchmark.json").read_text())["gate"]
    expected = variant_config(BenchmarkConfig.quick().gate, best["change"])
    assert chosen == json.loads(json.dumps(expected.to_dict()))
    assert "(chosen)" in (out / "sweep" / "sweep.md").read_text()
    assert variant_config(GateConfig(), {"delta": 10.0}).weights.delta == 10.0
    with pytest.raises(ValueError, match="exclude each other"):
        api.benchmark(quick=True, full=True, out=tmp_path / "x")


def test_ablation_methods_and_their_report_lines():
    from molgate.benchmark.report import ablation_lines
    from molgate.benchmark.runners import molgate_method
    from molgate.methods import GateConfig

    gate = GateConfig()
    assert molgate_method("mtl-balanced", gate)[::2] == ("mtl", "per-task")
    method, noalign, reduction = molgate_method("gate-noalign", gate)
    assert method == "gate" and reduction is None and noalign.weights.active() == {}
    assert molgate_method("gate-separate", gate)[1].sharing == "separate"
    assert molgate_method("gate", gate) == ("gate", gate, None)
    method, fast, _ = molgate_method("gate-fast", gate)
    assert method == "gate" and (fast.perturb_molecules, fast.weights.map_sources) == (16, 3)
    assert replace(fast, perturb_molecules=None, weights=replace(fast.weights, map_sources=None)) == gate
    _, strong, _ = molgate_method("gate-separate-strong", gate)
    w = strong.weights
    assert strong.sharing == "separate" and w.form == "raw"
    assert (w.alpha, w.beta, w.gamma, w.delta) == (1.0, 30.0, 1.0, 10000.0) and len(w.active()) == 4
    _, strong_off, _ = molgate_method("gate-separate-noalign", gate)
    assert strong_off.sharing == "separate" and strong_off.weights.active() == {}
    _, nodis, _ = molgate_method("gate-separate-nodis", gate)
    assert nodis.sharing == "separate" and nodis.perturb_at == "input" and nodis.weights.form == "raw"
    assert set(nodis.weights.active()) == {"auto", "cons", "map"} and nodis.weights.beta == 30.0
    _, molpert, _ = molgate_method("gate-separate-molpert", gate)
    assert (molpert.sharing, molpert.perturb_at, molpert.weights.delta) == ("separate", "molecule", 3500.0)
    assert molpert.weights.active() == dict(w.active(), dis=3500.0)

    results = []
    for seed in range(5):
        for task in "abcdefghij":
            for method, rmse in (("mtl", 2.0), ("mtl-balanced", 1.5), ("gate-noalign", 1.2 - 0.01 * seed),
                                 ("gate", 1.0 + 0.001 * seed)):
                results.append({"split": "scaffold", "seed": seed, "method": method,
                                "metrics": {task: {"n": 10, "rmse": rmse, "mae": rmse, "r2": 0.5, "pearson": 0.9}}})
    lines = ablation_lines(results_frame(results), "gate")
    assert "better MTL variant (mtl-balanced): better on 50/50" in lines[0]
    assert "(gate-noalign): better on 50/50" in lines[1] and "adds nothing" not in lines[1]

    from molgate.benchmark.report import ablation_of, alignment_effect_lines
    assert ablation_of("gate-separate-nodis") == "gate-separate-noalign" and ablation_of("gate") == "gate-noalign"
    renamed = [dict(r, method={"gate": "gate-separate-nodis", "gate-noalign": "gate-separate-noalign"}.get(
        r["method"], r["method"])) for r in results]
    lines = ablation_lines(results_frame(renamed), "gate-separate-nodis")
    assert "(gate-separate-noalign): better on 50/50" in lines[1]
    effect = alignment_effect_lines(results_frame(renamed), "gate-separate-nodis")
    assert "gate-separate-nodis / gate-separate-noalign" in effect[3]


def test_complete_seeds_keeps_only_seeds_where_every_method_finished():
    from molgate.benchmark.run import complete_seeds

    def r(seed, method):
        return {"split": "scaffold", "seed": seed, "method": method, "metrics": {}}

    results = [r(0, "mtl"), r(0, "gate"), r(0, "stl"), r(1, "mtl"), r(2, "mtl"), r(2, "gate")]
    kept = complete_seeds(results, ["mtl", "gate"])
    assert sorted((x["seed"], x["method"]) for x in kept) == [(0, "gate"), (0, "mtl"), (2, "gate"), (2, "mtl")]
    assert complete_seeds(results, ["mtl", "chemprop-mtl"]) == []


def test_report_only_trains_nothing_and_reports_complete_seeds(quick, tmp_path, capsys):
    stamps = {p: p.stat().st_mtime_ns for p in quick.glob("runs/**/result.json")}
    assert main(["benchmark", "--quick", "--methods", "mtl", "gate", "--out", str(quick), "--report-only",
                 "--no-progress"]) == 0
    assert {p: p.stat().st_mtime_ns for p in quick.glob("runs/**/result.json")} == stamps
    results = json.loads((quick / "results.json").read_text())["results"]
    assert {r["method"] for r in results} == {"mtl", "gate"}
    assert "(d) paired comparison" in (quick / "report.md").read_text()
    assert main(["benchmark", "--quick", "--out", str(tmp_path / "none"), "--report-only"]) != 0
    assert "benchmark.json is missing" in capsys.readouterr().err
    assert main(["benchmark", "--quick", "--methods", "mtl", "mtl-balanced", "--out", str(quick),
                 "--report-only"]) == 2  # mtl-balanced never ran there
    assert "no seed has finished runs of every method of mtl, mtl-balanced" in capsys.readouterr().err


def test_settings_saved_before_a_new_gate_field_still_match(tmp_path):
    config = BenchmarkConfig.quick()
    config.save_or_check(tmp_path)
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    del saved["gate"]["weights"]["map_sources"]  # as written by a build without that field
    (tmp_path / "benchmark.json").write_text(json.dumps(saved))
    BenchmarkConfig.quick().save_or_check(tmp_path)  # same settings: accepted
    with pytest.raises(ValueError, match="other settings"):
        BenchmarkConfig.quick(epochs=5).save_or_check(tmp_path)


def test_gate_settings_bind_a_folder_only_once_it_holds_gate_runs(tmp_path):
    other_gate = GateConfig(latent_size=16, lf_size=16, perturb_count=2)
    BenchmarkConfig.quick(methods=("mtl", "stl")).save_or_check(tmp_path)
    BenchmarkConfig.quick(methods=("gate",), gate=other_gate).save_or_check(tmp_path)  # no GATE run yet: accepted
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["gate"]["latent_size"] == 16 and set(saved["methods"]) == {"mtl", "stl", "gate"}
    with pytest.raises(ValueError, match="other settings \\(gate\\)"):
        BenchmarkConfig.quick(methods=("mtl",)).save_or_check(tmp_path)  # the folder now holds GATE runs
    with pytest.raises(ValueError, match="other settings \\(epochs\\)"):
        BenchmarkConfig.quick(methods=("mtl",), epochs=5, gate=other_gate).save_or_check(tmp_path)


@pytest.mark.parametrize("gate_factor, verdict", [(1.1, "measurably worse"), (0.9, None)])
def test_ablation_verdict_says_when_the_alignment_hurts(gate_factor, verdict):
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(3):
        for task in range(10):
            base = 1.0 + rng.random()
            rows += [{"split": "scaffold", "seed": seed, "method": "gate-noalign", "task": f"t{task}", "rmse": base},
                     {"split": "scaffold", "seed": seed, "method": "mtl", "task": f"t{task}", "rmse": base},
                     {"split": "scaffold", "seed": seed, "method": "gate", "task": f"t{task}",
                      "rmse": base * gate_factor * (1 + 0.01 * rng.random())}]
    line = [x for x in ablation_lines(pd.DataFrame(rows), "gate") if "without alignment" in x][0]
    assert ("30/30" in line) == (gate_factor < 1)
    if verdict:
        assert verdict in line
    else:
        assert "worse" not in line and "adds nothing" not in line


def test_missing_lines_group_left_out_runs_by_seed():
    from molgate.benchmark.report import missing_lines

    assert missing_lines([]) == []
    lines = missing_lines([(Job("scaffold", 2, "mtl"), True), (Job("scaffold", 2, "gate"), False),
                           (Job("random", 0, "gate"), False)])
    assert lines[0] == "## Runs not in this report (3)"
    assert "- scaffold seed 2: mtl (finished), gate" in lines
    assert "- random seed 0: gate" in lines


def _write_regime(folder, cap, gate_rmse):
    folder.mkdir()
    results = [{"split": "scaffold", "seed": s, "method": m, "seconds": 1.0,
                "metrics": {"a": {"rmse": r}, "b": {"rmse": 2 * r}}, "train_labels": {"a": cap or 1000, "b": cap or 1000}}
               for s in (0, 1) for m, r in (("gate", gate_rmse), ("mtl", 1.0), ("stl", 2.0))]
    (folder / "results.json").write_text(json.dumps(
        {"settings": {"max_per_task": cap, "epochs": 30}, "results": results}))


def test_regime_lines_set_gates_edge_side_by_side(tmp_path):
    from molgate.benchmark.compare import regime_lines

    _write_regime(tmp_path / "full", None, 0.8)
    _write_regime(tmp_path / "capped", 150, 0.9)
    text = "\n".join(regime_lines(tmp_path / "full", tmp_path / "capped", tmp_path))
    assert "no cap, 30 epochs (this folder) and cap 150, 30 epochs" in text
    assert "| a | -20.0 | -10.0 | -60.0 | -55.0 |" in text  # vs mtl, vs stl, both regimes
    assert "| tasks GATE better | 2/2 | 2/2 | 2/2 | 2/2 |" in text
    assert "GATE vs mtl: -20.0% (no cap, 30 epochs) against -10.0% (cap 150, 30 epochs)" in text
    assert "the edge is larger in this folder's regime" in text
    assert (tmp_path / "regimes_scaffold.png").stat().st_size > 0


def test_report_compares_regimes_and_lists_no_runs_when_none_is_left_out(quick, tmp_path, capsys):
    assert main(["benchmark", "--quick", "--methods", "mtl", "gate", "--out", str(quick),
                 "--report-only", "--compare-with", str(quick), "--no-progress"]) == 0
    report = (quick / "report.md").read_text()
    assert "Runs not in this report" not in report
    assert "## Regimes side by side" in report and "GATE vs mtl: " in report
    assert main(["benchmark", "--quick", "--out", str(quick), "--report-only",
                 "--compare-with", str(tmp_path / "nothing")]) == 2
    assert "results.json is missing" in capsys.readouterr().err


def test_chemprop_command_appends_extra_options_for_fine_tuning(tmp_path):
    from molgate.benchmark.runners import chemprop_command

    config = BenchmarkConfig.quick()
    cmd = chemprop_command(tmp_path / "d.csv", ["a"], tmp_path / "s.json", tmp_path / "o", config, 3,
                           extra=["--from-foundation", "fm.pt"])
    assert cmd[1] == "train" and cmd[-2:] == ["--from-foundation", "fm.pt"]
    assert cmd[cmd.index("--epochs") + 1] == str(config.epochs)
    assert chemprop_command(tmp_path / "d.csv", ["a"], tmp_path / "s.json", tmp_path / "o", config, 3)[-1] == str(
        tmp_path / "o")


def test_alignment_effect_lines_on_known_numbers():
    from molgate.benchmark.report import alignment_effect_lines

    rmse = {"gate": [1.1, 2.1, 3.0], "gate-noalign": [1.0, 2.0, 3.0], "mtl-balanced": [1.25, 2.4, 3.0]}
    rows = [{"split": "scaffold", "seed": 0, "method": m, "task": f"t{i}", "rmse": v}
            for m, values in rmse.items() for i, v in enumerate(values)]
    lines = alignment_effect_lines(pd.DataFrame(rows), "gate")
    assert "| t0 | +10.0 | -20.0 |" in lines and "| t1 | +5.0 | -16.7 |" in lines and "| t2 | +0.0 | +0.0 |" in lines
    assert any(line.startswith("Spearman correlation over tasks: -1.00") for line in lines)
    assert alignment_effect_lines(pd.DataFrame([r for r in rows if r["method"] != "mtl-balanced"]), "gate") == []


def test_benchmark_options_given_are_honoured_in_the_quick_regime_too():
    quick = BenchmarkConfig.from_options(quick=True)
    assert quick.seeds == (0,) and quick.epochs == 3 and quick.tasks == BenchmarkConfig.quick().tasks
    chosen = BenchmarkConfig.from_options(tasks=["parachor"], seeds=[1, 2], quick=True)
    assert (chosen.tasks, chosen.seeds, chosen.epochs) == (["parachor"], (1, 2), 3)
    default = BenchmarkConfig.from_options()
    assert (default.tasks, default.seeds, default.max_per_task, default.epochs) == ("reference10", (0, 1, 2, 3, 4), 1500, 30)
    full = BenchmarkConfig.from_options(seeds=[3], full=True, epochs=7)
    assert (full.seeds, full.max_per_task, full.epochs, full.patience) == ((3,), None, 7, 10)
    with pytest.raises(ValueError, match="exclude each other"):
        BenchmarkConfig.from_options(quick=True, full=True)


def test_partial_lines_set_a_method_short_of_seeds_against_gate_on_its_own_seeds():
    from molgate.benchmark.report import partial_lines

    def r(seed, method, a, b):
        return {"split": "scaffold", "seed": seed, "method": method, "metrics": {"a": {"rmse": a}, "b": {"rmse": b}}}

    main_runs = [r(s, "gate", 1.0, 2.0) for s in (0, 1, 2)] + [r(s, "mtl", 1.0, 2.0) for s in (0, 1, 2)]
    partial = [r(0, "chemprop-mtl", 2.0, 2.5)]  # seed 0 only: gate -50% on a, -20% on b
    lines = partial_lines(main_runs, partial)
    assert lines[0] == "## Methods on fewer seeds"
    assert "| scaffold | chemprop-mtl | [0] | 2 | 2 | -35.0% | -35.0% | 0.5 |" in lines
    assert partial_lines(main_runs, []) == []
    no_gate = partial_lines([r(0, "mtl", 1.0, 1.0)], partial)  # nothing to pair with
    assert "| scaffold | chemprop-mtl | [0] | 0 | - | - | - | - |" in no_gate


def test_report_only_adds_partial_methods_outside_the_main_tables(quick, capsys):
    assert main(["benchmark", "--quick", "--methods", "mtl", "gate", "--out", str(quick), "--report-only",
                 "--partial-methods", "stl", "chemprop", "--no-progress"]) == 0
    report = (quick / "report.md").read_text()
    assert "## Methods on fewer seeds" in report
    for method in ("stl", "chemprop-stl", "chemprop-mtl"):
        assert f"| scaffold | {method} | [0] | 2 |" in report
    main_tables = report.split("## Methods on fewer seeds")[0]
    assert "| task | mtl | gate |" in main_tables  # the partial methods stay out of the main tables
    results = json.loads((quick / "results.json").read_text())["results"]
    assert {r["method"] for r in results} == {"mtl", "gate"}
    assert main(["benchmark", "--quick", "--methods", "mtl", "gate", "--out", str(quick), "--report-only",
                 "--partial-methods", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err


def test_aggregation_is_a_benchmark_setting_old_folders_read_as_mean(tmp_path):
    from molgate.benchmark.runners import chemprop_command

    BenchmarkConfig.quick().save_or_check(tmp_path)
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["aggregation"] == "mean"
    del saved["aggregation"]  # as written before the setting existed
    (tmp_path / "benchmark.json").write_text(json.dumps(saved))
    BenchmarkConfig.quick().save_or_check(tmp_path)  # accepted: those runs used mean
    with pytest.raises(ValueError, match="other settings \\(aggregation\\)"):
        BenchmarkConfig.quick(aggregation="norm").save_or_check(tmp_path)
    with pytest.raises(ValueError, match="aggregation must be one of"):
        BenchmarkConfig.quick(aggregation="max")
    config = BenchmarkConfig.from_options(quick=True, aggregation="norm")
    cmd = chemprop_command(tmp_path / "d.csv", ["a"], tmp_path / "s.json", tmp_path / "o", config, 0)
    assert cmd[cmd.index("--aggregation") + 1] == "norm"
    assert BenchmarkConfig.from_options(full=True).aggregation == "mean"


def test_benchmark_refuses_an_unknown_aggregation_at_parse_time(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", "--quick", "--out", "unused", "--aggregation", "max"])
    assert exit_info.value.code == 2 and "invalid choice: 'max'" in capsys.readouterr().err


def test_a_benchmark_job_trains_with_the_benchmarks_aggregation(quick, tmp_path):
    from molgate.benchmark.runners import run_molgate
    from molgate.estimator import PropertyRegressor

    table, _ = read_table(quick / "suite" / "suite.parquet")
    split_file = quick / "splits" / "scaffold_seed0.json"
    split = load_split(split_file, table)
    config = replace(BenchmarkConfig.quick(aggregation="norm"), epochs=1)
    preds = run_molgate(Job("scaffold", 0, "mtl"), config, table, quick / "suite" / "suite.parquet",
                        split_file, split, tmp_path)
    model = PropertyRegressor.load(tmp_path / "model")
    assert type(model.model_.encoder.aggregation).__name__ == "NormAggregation"
    assert set(preds["smiles"]) == {table.smiles[i] for i in split.test}
