"""A synthetic screening library, enumerated from building blocks.

No large library can be downloaded here, so screening benchmarks need one made on the spot. The
molecules are small organic liquids of the kind the property suite covers (esters, ethers, amides,
ketones, amines, carbonates, phosphates, halogenated aromatics): monovalent *caps* joined through
divalent *linkers* (the functional groups) and *spacers* (hydrocarbon or aromatic bridges), or
three caps on a trivalent *hub*. Every junction joins a carbon of a cap or spacer to a heteroatom
or carbonyl carbon of a linker, so every combination is a valid, chemically sensible molecule.

Sampling draws uniform indices into the combined index space with ``numpy.random.default_rng``,
so a seed fixes the library; molecules are joined with ``Chem.molzip`` (no SMILES re-parsing)
and written as RDKit canonical SMILES.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rdkit import Chem
from tqdm.auto import tqdm

# Monovalent caps, attached through a carbon: never a heteroatom, so no peroxides, N-O or
# hypohalite bonds appear when a cap meets a linker's heteroatom.
CAPS = (
    "[*:1]C", "[*:1]CC", "[*:1]CCC", "[*:1]C(C)C", "[*:1]CCCC", "[*:1]CC(C)C", "[*:1]C(C)CC",
    "[*:1]C(C)(C)C", "[*:1]CCCCC", "[*:1]CCC(C)C", "[*:1]CCCCCC", "[*:1]CCCCCCCC",
    "[*:1]CC(CC)CCCC", "[*:1]C1CC1", "[*:1]C1CCCC1", "[*:1]C1CCCCC1", "[*:1]CC1CCCCC1",
    "[*:1]C1CCOC1", "[*:1]CC1CCCO1", "[*:1]C1CCOCC1", "[*:1]C=C", "[*:1]CC=C", "[*:1]CC#C",
    "[*:1]c1ccccc1", "[*:1]Cc1ccccc1", "[*:1]CCc1ccccc1", "[*:1]c1ccc(C)cc1", "[*:1]c1ccccc1C",
    "[*:1]c1ccc(F)cc1", "[*:1]c1ccc(Cl)cc1", "[*:1]c1ccc(Br)cc1", "[*:1]c1ccc(OC)cc1",
    "[*:1]c1cccc(C(F)(F)F)c1", "[*:1]c1ccc(C#N)cc1", "[*:1]c1ccc2ccccc2c1", "[*:1]c1ccccn1",
    "[*:1]c1cccnc1", "[*:1]c1ccco1", "[*:1]c1cccs1", "[*:1]Cc1ccco1", "[*:1]CCO", "[*:1]CCCO",
    "[*:1]CC(C)O", "[*:1]CCOC", "[*:1]CCOCC", "[*:1]CCOCCOC", "[*:1]CCCl", "[*:1]CC(F)(F)F",
    "[*:1]CCN(C)C", "[*:1]CCC#N",
)

# Divalent functional groups; the list holds both orientations of each asymmetric group, so a
# chain and its reverse are both reachable (and dedupe to one molecule).
LINKERS = (
    "[*:1]O[*:2]", "[*:1]C(=O)O[*:2]", "[*:1]OC(=O)[*:2]", "[*:1]C(=O)[*:2]",
    "[*:1]C(=O)N[*:2]", "[*:1]NC(=O)[*:2]", "[*:1]C(=O)N(C)[*:2]", "[*:1]N(C)C(=O)[*:2]",
    "[*:1]OC(=O)O[*:2]", "[*:1]NC(=O)N[*:2]", "[*:1]OC(=O)N[*:2]", "[*:1]NC(=O)O[*:2]",
    "[*:1]N[*:2]", "[*:1]N(C)[*:2]", "[*:1]S[*:2]", "[*:1]S(=O)(=O)[*:2]",
)

# Divalent bridges, attached through carbon at both ends.
SPACERS = (
    "[*:1]C[*:2]", "[*:1]CC[*:2]", "[*:1]CCC[*:2]", "[*:1]CCCC[*:2]", "[*:1]CCCCCC[*:2]",
    "[*:1]CC(C)[*:2]", "[*:1]CC(C)(C)C[*:2]", "[*:1]CCOCC[*:2]", "[*:1]c1ccc([*:2])cc1",
    "[*:1]c1cccc([*:2])c1", "[*:1]C1CCC([*:2])CC1", "[*:1]Cc1ccc(C[*:2])cc1",
    "[*:1]c1ccc([*:2])s1", "[*:1]c1cccc([*:2])n1",
)

# Trivalent hubs: phosphate, glycerol and trimethylolpropane esters, amines, orthoformates...
HUBS = (
    "O=P(O[*:1])(O[*:2])O[*:3]", "[*:1]C(=O)OCC(OC([*:2])=O)COC([*:3])=O",
    "CCC(COC([*:1])=O)(COC([*:2])=O)COC([*:3])=O", "[*:1]N([*:2])[*:3]",
    "[*:1]c1cc([*:2])cc([*:3])c1", "[*:1]OC(O[*:2])O[*:3]", "[*:1]OCC(CO[*:2])O[*:3]",
    "O=c1n([*:1])c(=O)n([*:2])c(=O)n1[*:3]",
)

# Each template: the building-block lists it draws from, and the attachment labels each block
# gets, so that equal labels meet in ``molzip``.
_TEMPLATES = (
    ("cap-linker-cap", (CAPS, LINKERS, CAPS), ((1,), (1, 2), (2,))),
    ("cap-spacer-cap", (CAPS, SPACERS, CAPS), ((1,), (1, 2), (2,))),
    ("cap-linker-spacer-linker-cap", (CAPS, LINKERS, SPACERS, LINKERS, CAPS),
     ((1,), (1, 2), (2, 3), (3, 4), (4,))),
    ("hub-3-caps", (HUBS, CAPS, CAPS, CAPS), ((1, 2, 3), (1,), (2,), (3,))),
)

CHUNK_SIZE = 50_000


def template_sizes() -> list[int]:
    """Combinations per template, in ``_TEMPLATES`` order."""
    return [int(np.prod([len(blocks) for blocks in lists], dtype=np.int64)) for _, lists, _ in _TEMPLATES]


def combination_count() -> int:
    """Every combination the building blocks allow, before merging duplicates."""
    return sum(template_sizes())


def max_library_size() -> int:
    """The largest ``size`` accepted.

    Chains and their reverses give the same molecule, so about half the combinations are unique
    (exhaustive enumeration: 5,093,450 of 10,035,000); staying under half of that keeps sampling
    with replacement cheap (few repeated draws).
    """
    return combination_count() // 4


def _relabel(smiles: str, labels: tuple[int, ...]) -> Chem.Mol:
    """The block with attachment ``[*:i]`` renamed to ``[*:labels[i-1]]``."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"bad building block {smiles!r}")
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            atom.SetAtomMapNum(labels[atom.GetAtomMapNum() - 1])
    return mol


def _labelled_blocks() -> list[list[list[Chem.Mol]]]:
    """For each template and position, its blocks as molecules with that position's labels."""
    return [[[_relabel(s, labels) for s in blocks] for blocks, labels in zip(lists, label_sets)]
            for _, lists, label_sets in _TEMPLATES]


def _join(parts: list[Chem.Mol]) -> str:
    mol = parts[0]
    for part in parts[1:]:
        mol = Chem.CombineMols(mol, part)
    return Chem.MolToSmiles(Chem.molzip(mol))


def _decode(index: int, radices: list[int]) -> list[int]:
    """Mixed-radix digits of ``index``, first position most significant."""
    digits = []
    for radix in reversed(radices):
        index, digit = divmod(index, radix)
        digits.append(digit)
    return digits[::-1]


def _digest(smiles: str) -> bytes:
    """8 bytes per molecule instead of the whole string: a million cost tens of MB, not hundreds."""
    return hashlib.blake2b(smiles.encode(), digest_size=8).digest()


def enumerate_molecules(size: int, seed: int = 0, batch: int = 4096) -> Iterator[str]:
    """``size`` unique canonical SMILES, lazily; the same seed gives the same sequence.

    ``size`` is checked here, at the call, not at the first ``next``.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    if size > max_library_size():
        raise ValueError(f"size {size} is more than this generator offers ({max_library_size()} "
                         f"molecules from {combination_count()} building-block combinations)")
    return _sample(size, seed, batch)


def _sample(size: int, seed: int, batch: int) -> Iterator[str]:
    blocks = _labelled_blocks()
    radices = [[len(b) for b in lists] for _, lists, _ in _TEMPLATES]
    offsets = np.cumsum([0] + template_sizes())
    rng = np.random.default_rng(seed)
    seen: set[bytes] = set()
    while True:
        for index in rng.integers(0, offsets[-1], size=batch).tolist():
            t = int(np.searchsorted(offsets, index, side="right")) - 1
            digits = _decode(index - int(offsets[t]), radices[t])
            smiles = _join([blocks[t][pos][d] for pos, d in enumerate(digits)])
            key = _digest(smiles)
            if key in seen:
                continue
            seen.add(key)
            yield smiles
            if len(seen) == size:
                return


def _format(out: Path) -> tuple[str, bool]:
    """(``smi`` | ``csv`` | ``parquet``, gzipped) from the file name."""
    name = out.name.lower()
    gz = name.endswith(".gz")
    ext = Path(name.removesuffix(".gz")).suffix
    if ext in (".smi", ".txt"):
        return "smi", gz
    if ext == ".csv":
        return "csv", gz
    if ext == ".parquet" and not gz:
        return "parquet", False
    raise ValueError(f"{out}: unknown library format; use .smi, .txt or .csv (optionally .gz), "
                     f"or .parquet")


def _write_text(chunks: Iterator[list[str]], path: Path, header: bool, gz: bool) -> None:
    """mtime=0 and no stored name in the gzip header, so a seed gives byte-identical files."""
    with open(path, "wb") as raw:
        binary = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if gz else raw
        with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as fh:
            if header:
                fh.write("smiles\n")
            for chunk in chunks:
                fh.write("\n".join(chunk) + "\n")


def _write_parquet(chunks: Iterator[list[str]], path: Path) -> None:
    """One row group per chunk, so memory stays flat however large the library."""
    schema = pa.schema([("smiles", pa.string())])
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in chunks:
            writer.write_table(pa.table({"smiles": pa.array(chunk, pa.string())}, schema=schema))


def _chunks(molecules: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(molecules, size)):
        yield chunk


def generate_library(size: int, out: str | Path, seed: int = 0, progress: bool = True) -> Path:
    """Write ``size`` unique molecules to ``out`` (.smi/.txt, .csv, optionally .gz, or .parquet).

    SMILES hold no commas or quotes, so CSV rows are plain lines. The file appears
    under its name only when complete: an interrupted run leaves ``out.part``, never a short
    library that looks finished.
    """
    out = Path(out)
    kind, gz = _format(out)
    molecules = enumerate_molecules(size, seed)  # validates size before any file is created
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with tqdm(total=size, desc="library", unit="mol", disable=not progress) as bar:
        def counted() -> Iterator[list[str]]:
            for chunk in _chunks(molecules, CHUNK_SIZE):
                bar.update(len(chunk))
                yield chunk

        if kind == "parquet":
            _write_parquet(counted(), part)
        else:
            _write_text(counted(), part, header=kind == "csv", gz=gz)
    os.replace(part, out)
    return out
