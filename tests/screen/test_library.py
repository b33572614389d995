"""The synthetic screening library: valid, canonical, unique, deterministic, in every format."""

import gzip

import pandas as pd
import pytest
from rdkit import Chem

from molgate.cli.main import main
from molgate.screen import library as lib
from molgate.screen import combination_count, enumerate_molecules, generate_library, max_library_size


def _canonical(smiles: str) -> str | None:
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def test_molecules_are_valid_canonical_and_unique():
    smiles = list(enumerate_molecules(2000, seed=3))
    assert len(smiles) == 2000
    assert len(set(smiles)) == 2000
    assert all(_canonical(s) == s for s in smiles)
    assert not any("*" in s or ":" in s for s in smiles)  # no leftover attachment points


def test_every_building_block_joins_into_a_valid_molecule():
    blocks = lib._labelled_blocks()
    cap = lambda label: lib._relabel("[*:1]CC", (label,))  # noqa: E731
    built = [lib._join([c, blocks[0][1][0], cap(2)]) for c in blocks[0][0]]  # every cap
    built += [lib._join([cap(1), linker, cap(2)]) for linker in blocks[0][1]]
    built += [lib._join([cap(1), spacer, cap(2)]) for spacer in blocks[1][1]]
    built += [lib._join([hub, cap(1), cap(2), cap(3)]) for hub in blocks[3][0]]
    assert len(built) == len(lib.CAPS) + len(lib.LINKERS) + len(lib.SPACERS) + len(lib.HUBS)
    assert all(_canonical(s) == s for s in built)
    assert "CCOC(=O)CC" in built  # ethyl propanoate: cap-ester-cap joins the right atoms
    assert "CCOP(=O)(OCC)OCC" in built  # triethyl phosphate


def test_same_seed_same_molecules_other_seed_others():
    first = list(enumerate_molecules(500, seed=7))
    assert first == list(enumerate_molecules(500, seed=7))
    assert len(set(first) & set(enumerate_molecules(500, seed=8))) < 50
    assert list(enumerate_molecules(200, seed=7)) == first[:200]


def test_the_blocks_offer_more_than_a_million_molecules():
    # a cap-linker-spacer-linker-cap chain equals at most one other (its reverse)
    assert combination_count() == 50 * 16 * 50 + 50 * 14 * 50 + 50 * 16 * 14 * 16 * 50 + 8 * 50 ** 3
    assert max_library_size() >= 2_000_000


def test_sizes_out_of_range_are_refused_before_any_file_is_written(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        enumerate_molecules(0)
    with pytest.raises(ValueError, match="more than this generator offers"):
        generate_library(max_library_size() + 1, tmp_path / "big.smi")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["lib.smi", "lib.txt", "lib.smi.gz", "lib.csv", "lib.csv.gz", "lib.parquet"])
def test_each_format_holds_exactly_the_enumerated_molecules(tmp_path, name):
    out = generate_library(300, tmp_path / name, seed=1, progress=False)
    assert out == tmp_path / name and not (tmp_path / (name + ".part")).exists()
    if name.endswith(".parquet"):
        smiles = pd.read_parquet(out)["smiles"].tolist()
    elif ".csv" in name:
        frame = pd.read_csv(out)
        assert list(frame.columns) == ["smiles"]
        smiles = frame["smiles"].tolist()
    else:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(out, "rt") as fh:
            smiles = fh.read().splitlines()
    assert smiles == list(enumerate_molecules(300, seed=1))


@pytest.mark.parametrize("name", ["lib.csv.gz", "lib.parquet"])
def test_same_seed_gives_a_byte_identical_file(tmp_path, name):
    a = generate_library(300, tmp_path / "a" / name, seed=2, progress=False)
    b = generate_library(300, tmp_path / "b" / name, seed=2, progress=False)
    c = generate_library(300, tmp_path / "c" / name, seed=3, progress=False)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_parquet_is_written_in_row_groups(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr(lib, "CHUNK_SIZE", 100)
    out = generate_library(250, tmp_path / "lib.parquet", progress=False)
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 250 and meta.num_row_groups == 3


@pytest.mark.parametrize("name", ["lib.sdf", "lib.parquet.gz", "lib", "lib.gz"])
def test_unknown_extension_is_a_clear_error(tmp_path, name):
    with pytest.raises(ValueError, match="unknown library format"):
        generate_library(10, tmp_path / name, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "lib.csv"
    assert main(["library", "generate", "--size", "400", "--out", str(out), "--seed", "5",
                 "--no-progress"]) == 0
    assert "400 molecules written to" in capsys.readouterr().out
    assert pd.read_csv(out)["smiles"].tolist() == list(enumerate_molecules(400, seed=5))


def test_cli_help_and_errors(tmp_path, capsys):
    for argv in (["library", "--help"], ["library", "generate", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    assert "--size" in capsys.readouterr().out
    assert main(["library", "generate", "--size", "10", "--out", str(tmp_path / "lib.xyz")]) == 2
    assert "unknown library format" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["library", "generate", "--out", str(tmp_path / "lib.smi")])  # --size is required
    assert exc.value.code == 2
