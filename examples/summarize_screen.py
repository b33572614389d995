"""Summarise a ``molgate screen`` output: counts, the best in-domain hits, and a plot.

    python examples/summarize_screen.py runs/coolant/hits.parquet --out runs/coolant/hits.png
"""

from __future__ import annotations

import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("hits")
    parser.add_argument("--out", default="hits.png")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    frame = pd.read_parquet(args.hits)
    meta = pq.read_schema(args.hits).metadata or {}
    units = json.loads(meta.get(b"molgate.units", b"{}"))
    props = list(units)
    print(f"{len(frame)} hit(s); {int(frame['in_domain'].sum()) if 'in_domain' in frame else 'n/a'} in the "
          "applicability domain (nearest training neighbour Tanimoto >= 0.3)")
    if frame.empty:
        return
    ranked = frame.sort_values(["in_domain", "nn_similarity"], ascending=False) if "in_domain" in frame else frame
    print(ranked[["smiles", *props, *(c for c in ("nn_similarity",) if c in frame)]].head(args.top)
          .to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    x, y = props[0], props[min(2, len(props) - 1)]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    points = ax.scatter(frame[x], frame[y], c=frame.get("nn_similarity", 0.5), s=6, cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(points, label="nearest training neighbour (Tanimoto)")
    ax.set_xlabel(f"{x} [{units.get(x, '')}]")
    ax.set_ylabel(f"{y} [{units.get(y, '')}]")
    ax.set_title(f"{len(frame)} hits")
    fig.tight_layout()
    fig.savefig(args.out, dpi=130)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
