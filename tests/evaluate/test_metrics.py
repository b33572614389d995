import math

import numpy as np

from molgate.evaluate.metrics import metrics_table, regression_metrics, task_metrics
from molgate.evaluate.plots import grouped_bar_chart, parity_plot


def test_metrics_on_known_values():
    m = regression_metrics([1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 5.0, 100.0])
    assert m["n"] == 3
    assert math.isclose(m["rmse"], math.sqrt(4 / 3))
    assert math.isclose(m["mae"], 2 / 3)
    assert math.isclose(m["r2"], 1 - 4 / 2)
    assert math.isclose(m["pearson"], np.corrcoef([1, 2, 3], [1, 2, 5])[0, 1])


def test_metrics_edge_cases():
    assert regression_metrics([np.nan], [1.0])["n"] == 0
    assert math.isnan(regression_metrics([1.0, 1.0], [1.0, 2.0])["pearson"])


def test_task_metrics_table_and_plots(tmp_path):
    y = np.array([[1.0, np.nan], [2.0, 1.0], [3.0, 2.0]])
    p = y + 0.5
    m = task_metrics(y, np.nan_to_num(p), ["a", "b"])
    assert m["b"]["n"] == 2 and math.isclose(m["a"]["rmse"], 0.5)
    table = metrics_table(m, {"a": "K"})
    assert table.loc["a", "unit"] == "K" and table.loc["b", "n"] == 2
    png = parity_plot(y[:, 0], p[:, 0], "a", "K", tmp_path / "a.png", m["a"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bar = grouped_bar_chart({"stl": {"a": 1.0}, "mtl": {"a": 0.8}}, "RMSE", tmp_path / "b.png")
    assert bar.stat().st_size > 1000
