"""``--where``: criteria on predicted properties, parsed once and checked before any work.

The expression is Python-like (``boiling_point > 450 and viscosity_298 < 10``, ``not (a < 1 or
b >= 2)``, arithmetic such as ``flash_point - 273.15 > 150``) and is compiled from its syntax tree
into operations on columns; nothing in it is executed as code. A name that is not a known column is
an error naming it and the columns there are.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from molgate.errors import MolgateError

_COMPARE = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.Pow: operator.pow}


class WhereError(MolgateError):
    pass


@dataclass
class Criteria:
    expression: str
    tree: ast.Expression
    names: list[str]

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """True where a row meets the criteria (a NaN property never does)."""
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf and NaN rows
                value = _evaluate(self.tree.body, frame)
        except (ArithmeticError, ValueError) as exc:  # 1/0 or 10**999 between numbers of the expression
            raise WhereError(f"--where: cannot evaluate {self.expression!r}: {exc}") from None
        mask = np.full(len(frame), bool(value)) if np.ndim(value) == 0 else np.asarray(value, dtype=bool)
        if self.names:  # "not (x < 1)" must not select a molecule whose x is unknown
            mask &= frame[self.names].notna().to_numpy().all(axis=1)
        return mask


def parse_where(expression: str, columns: list[str]) -> Criteria:
    """Parse and check ``expression`` against the available ``columns``."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise WhereError(f"--where: cannot parse {expression!r}: {exc.msg}") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in columns:
                raise WhereError(f"--where: unknown property '{node.id}'; the columns are: "
                                 f"{', '.join(columns)}")
            names.append(node.id)
        elif not isinstance(node, (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not,
                                   ast.USub, ast.UAdd, ast.Compare, ast.BinOp, ast.Constant, ast.Load,
                                   *_COMPARE, *_ARITH)):
            raise WhereError(f"--where: {type(node).__name__} is not allowed in {expression!r} (use "
                             "comparisons, and/or/not, arithmetic, numbers and property names)")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise WhereError(f"--where: only numbers may appear as constants, not {node.value!r}")
    if not isinstance(tree.body, (ast.Compare, ast.BoolOp)) and not (
            isinstance(tree.body, ast.UnaryOp) and isinstance(tree.body.op, ast.Not)):
        raise WhereError(f"--where: {expression!r} is not a condition (compare a property with a value)")
    criteria = Criteria(expression, tree, sorted(set(names)))
    criteria.mask(pd.DataFrame({c: [1.0] for c in columns}))  # errors now, not in a worker after the work
    return criteria


def _evaluate(node: ast.AST, frame: pd.DataFrame):
    if isinstance(node, ast.Name):
        return frame[node.id].to_numpy(dtype=np.float64)
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, frame)
        if isinstance(node.op, ast.Not):
            return np.logical_not(value)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        return _ARITH[type(node.op)](_evaluate(node.left, frame), _evaluate(node.right, frame))
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v, frame) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    if isinstance(node, ast.Compare):  # a < b < c chains like Python
        left = _evaluate(node.left, frame)
        out = None
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, frame)
            with np.errstate(invalid="ignore"):
                part = _COMPARE[type(op)](left, right)
            out = part if out is None else np.logical_and(out, part)
            left = right
        return out
    raise WhereError(f"--where: unsupported {type(node).__name__}")  # pragma: no cover - parse_where checks
