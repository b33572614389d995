"""One worker's whole job on a chunk: parse, featurise, predict, filter, write its Parquet part.

On CPUs the fastest screen is one where every core runs this, start to finish, on its own chunk:
the models are small, so each worker holds its own copy (loaded once per process) and predicts
with one thread, and nothing but a chunk's SMILES and its row count ever crosses between
processes (no graphs pickled to a predicting parent, no thread pool fighting the featurisers).
The local engine runs it in a process pool (:func:`init_pool_worker`, :func:`screen_chunk`),
the Ray engine in Ray Data actors. With a GPU the local engine instead predicts in the parent,
on the one device, from graphs prepared by the workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from molgate.screen.models import ScreenModels, load_screen_models
from molgate.screen.output import ScreenSettings, output_columns, output_schema, write_chunk
from molgate.screen.prepare import PreparedChunk, init_worker, prepare_chunk
from molgate.screen.reader import LibraryChunk
from molgate.screen.where import parse_where


class ChunkScreener:
    """Models loaded once; then :meth:`__call__` screens one chunk and returns how many rows it read."""

    def __init__(self, model_dirs: list[str], settings: dict, reference: list[str] | None, parts: str,
                 files: list[str], device: str | None = "cpu", threads: int = 1):
        torch.set_num_threads(max(1, threads))
        self.settings = ScreenSettings(**settings)
        self.models = load_screen_models(model_dirs[0], model_dirs[1:], device)
        where = self.settings.where
        self.criteria = parse_where(where, output_columns(self.models, self.settings)[3:]) if where else None
        self.schema = output_schema(self.models, self.settings)
        self.parts = Path(parts)
        self.file_index = {f: i for i, f in enumerate(files)}
        init_worker(self.models.featurizer, reference, self.settings.largest_fragment)

    def __call__(self, chunk: LibraryChunk) -> int:
        prepared, preds = self.predict(chunk)
        return write_chunk(prepared, preds, self.models, self.settings, self.criteria, self.schema,
                           self.parts, self.file_index[chunk.file])

    def predict(self, chunk: LibraryChunk) -> tuple[PreparedChunk, np.ndarray]:
        """The chunk prepared and predicted one batch at a time, so that only one batch of graphs
        is ever held (a worker's memory does not grow with ``--chunk-size``); the graphs are
        dropped from the result."""
        step = self.settings.batch_size
        pieces, preds = [], []
        for start in range(0, len(chunk.rows), step):
            piece = prepare_chunk(LibraryChunk(chunk.index, chunk.file, chunk.rows[start:start + step],
                                               chunk.smiles[start:start + step]))
            preds.append(self.models.predict(piece.graphs, step, self.settings.precision))
            piece.graphs = []
            pieces.append(piece)
        return merge_prepared(chunk, pieces), _concat_predictions(preds, self.models)


def merge_prepared(chunk: LibraryChunk, pieces: list[PreparedChunk]) -> PreparedChunk:
    """Pieces of one chunk, prepared separately, as one (graphs left out)."""
    sims = [p.similarity for p in pieces if p.similarity is not None]
    return PreparedChunk(chunk.index, chunk.file, [r for p in pieces for r in p.rows],
                         [s for p in pieces for s in p.smiles], [],
                         np.concatenate(sims) if sims else None,
                         [r for p in pieces for r in p.rejects], sum(p.n_read for p in pieces),
                         sum(p.multi_fragment for p in pieces))


def _concat_predictions(preds: list[np.ndarray], models: ScreenModels) -> np.ndarray:
    if not preds:
        return np.zeros((0, len(models.models), len(models.tasks)), dtype=np.float32)
    return np.concatenate(preds)


_SCREENER: list[ChunkScreener] = []


def init_pool_worker(*args, **kwargs) -> None:
    """Process-pool initialiser: this process's :class:`ChunkScreener`."""
    _SCREENER[:] = [ChunkScreener(*args, **kwargs)]


def screen_chunk(chunk: LibraryChunk) -> int:
    return _SCREENER[0](chunk)
