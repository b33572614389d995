"""Numeric options are checked when the command line is parsed: a usage error (exit 2), no work."""

import pytest

from molgate.cli.main import build_parser, main

TRAIN = ["train", "--data", "d.csv", "--out", "o"]


@pytest.mark.parametrize("args", [
    [*TRAIN, "--epochs", "0"], [*TRAIN, "--epochs", "-1"], [*TRAIN, "--hidden-size", "0"],
    [*TRAIN, "--depth", "0"], [*TRAIN, "--batch-size", "0"], [*TRAIN, "--ffn-hidden-size", "0"],
    [*TRAIN, "--ffn-layers", "-1"], [*TRAIN, "--dropout", "1"], [*TRAIN, "--dropout", "-0.1"],
    [*TRAIN, "--max-lr", "0"], [*TRAIN, "--init-lr", "nan"], [*TRAIN, "--patience", "-1"],
    [*TRAIN, "--devices", "0"], [*TRAIN, "--seed", "-1"], [*TRAIN, "--latent-size", "0"],
    [*TRAIN, "--perturb-count", "0"], [*TRAIN, "--alpha", "-1"], [*TRAIN, "--ratio-interval", "0"],
    [*TRAIN, "--epochs", "two"], [*TRAIN, "--ensemble-size", "0"],
    [*TRAIN, "--split-sizes", "0.9", "0.1", "0.0"], [*TRAIN, "--split-sizes", "0.8", "0.1", "0.2"],
    [*TRAIN, "--split-sizes", "1.2", "-0.1", "-0.1"],
    ["add-task", "--model", "m", "--data", "d", "--target", "t", "--out", "o", "--epochs", "0"],
    ["add-task", "--model", "m", "--data", "d", "--target", "t", "--out", "o", "--split-sizes", "1", "0", "0"],
    ["screen", "--model", "m", "--library", "l", "--out", "o.parquet", "--workers", "-1"],
    ["screen", "--model", "m", "--library", "l", "--out", "o.parquet", "--batch-size", "0"],
    ["screen", "--model", "m", "--library", "l", "--out", "o.parquet", "--chunk-size", "0"],
    ["screen", "--model", "m", "--library", "l", "--out", "o.parquet", "--domain-threshold", "1.5"],
    ["predict", "--model", "m", "--data", "d", "--out", "o", "--batch-size", "0"],
    ["split", "--data", "d", "--out", "o", "--seeds", "-1"],
    ["split", "--data", "d", "--out", "o", "--split-sizes", "0.5", "0.5", "0"],
    ["benchmark", "--out", "o", "--epochs", "0"], ["benchmark", "--out", "o", "--max-per-task", "0"],
    ["library", "generate", "--size", "0", "--out", "l.smi"],
    ["data", "split", "--data", "d", "--seeds", "-2"],
])
def test_bad_numbers_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: molgate" in err and "Traceback" not in err


def test_good_numbers_pass():
    a = build_parser().parse_args([*TRAIN, "--epochs", "1", "--split-sizes", "0.6", "0.2", "0.2",
                                   "--ffn-layers", "0", "--dropout", "0.5", "--warmup-epochs", "0"])
    assert a.epochs == 1 and a.split_sizes == [0.6, 0.2, 0.2] and a.ffn_layers == 0
    s = build_parser().parse_args(["screen", "--model", "m", "--library", "l", "--out", "o.parquet",
                                   "--workers", "0", "--domain-threshold", "0"])
    assert s.workers == 0 and s.domain_threshold == 0.0


def test_split_sizes_message_says_why(capsys):
    with pytest.raises(SystemExit):
        main([*TRAIN, "--split-sizes", "0.9", "0.1", "0.0"])
    assert "must be in (0, 1), got 0" in capsys.readouterr().err
