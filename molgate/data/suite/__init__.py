"""Built-in property suite: ~40 experimental molecular properties built offline from the tables
shipped in the `chemicals` package, plus FreeSolv."""
from .build import build_suite
from .curate import summary_lines
from .summary import summarize_suite
from .tasks import PRESETS, TASKS, resolve_tasks

__all__ = ["build_suite", "summary_lines", "summarize_suite", "TASKS", "PRESETS", "resolve_tasks"]
