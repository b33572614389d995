"""The benchmark harness: STL, MTL, GATE and Chemprop on the same saved splits, in the papers' tables."""

from molgate.benchmark.plan import METHODS, BenchmarkConfig, expand_methods
from molgate.benchmark.report import write_report
from molgate.benchmark.run import run_benchmark
from molgate.benchmark.sweep import sweep_gate

__all__ = ["BenchmarkConfig", "METHODS", "expand_methods", "run_benchmark", "write_report", "sweep_gate"]
