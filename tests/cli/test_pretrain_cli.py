"""The ``pretrain`` sub-command: validated options, and what it hands to the workflow."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from molgate.cli import lazy
from molgate.cli.pretrain import cmd_pretrain, register


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="molgate")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_defaults_train_every_task_of_the_suite_on_every_label():
    a = _parser().parse_args(["pretrain", "--out", "m"])
    assert a.func is cmd_pretrain
    assert (a.tasks, a.max_per_task, a.epochs, a.split, a.seed, a.overwrite) == (["all"], None, 50, "scaffold", 0, False)


@pytest.mark.parametrize("bad", [["--max-per-task", "0"], ["--epochs", "0"], ["--seed", "-1"],
                                 ["--batch-size", "x"], ["--split", "cluster"]])
def test_bad_values_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["pretrain", "--out", "m", *bad])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_command_hands_its_options_to_the_workflow(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake_pretrain(out, **kwargs):
        seen.update(out=out, **kwargs)
        return SimpleNamespace(tasks=["RON", "MON"], metrics={"RON": {"rmse": 1.0}, "MON": None}, seconds=3.0,
                               total_seconds=5.0, model_dir=Path(out), card=Path(out) / "MODEL_CARD.md")

    monkeypatch.setattr(lazy, "api", lambda: SimpleNamespace(pretrain=fake_pretrain))
    a = _parser().parse_args(["pretrain", "--out", str(tmp_path / "m"), "--tasks", "RON", "MON",
                              "--max-per-task", "30", "--epochs", "2", "--exclude-source",
                              "CAS Common Chemistry", "--suite-dir", str(tmp_path / "s"), "--no-progress"])
    assert a.func(a) == 0
    assert seen["tasks"] == ["RON", "MON"] and seen["max_per_task"] == 30 and seen["epochs"] == 2
    assert seen["exclude_sources"] == ("CAS Common Chemistry",) and seen["progress"] is False
    assert seen["suite_dir"] == str(tmp_path / "s")
    out = capsys.readouterr().out
    assert "2 task(s)" in out and "1 task(s) scored" in out and "molgate add-task --model" in out
    a = _parser().parse_args(["pretrain", "--out", "m2"])
    a.func(a)
    assert seen["tasks"] == "all"  # a single preset name goes as a string


def test_the_molgate_command_and_the_api_offer_pretrain(capsys):
    from molgate import api
    from molgate.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["pretrain", "--help"])
    assert info.value.code == 0 and "--max-per-task" in capsys.readouterr().out
    assert api.pretrain is lazy.api().pretrain and "pretrain" in api.__all__
