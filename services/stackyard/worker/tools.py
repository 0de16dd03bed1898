"""Tools an agent step can use. The calculator evaluates arithmetic only, never arbitrary code."""

import ast
import operator
import re

from stackyard.orchestrator.planning import ARITHMETIC

_OPERATORS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Mod: operator.mod, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
MAX_MAGNITUDE = 1e15


class ToolError(ValueError):
    pass


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Div | ast.Mod) and right == 0:
            raise ToolError("division by zero")
        result = _OPERATORS[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        result = _OPERATORS[type(node.op)](_evaluate(node.operand))
    else:
        raise ToolError(f"not arithmetic: {ast.dump(node)[:60]}")
    if abs(result) > MAX_MAGNITUDE:
        raise ToolError("result too large")
    return float(result)


def calculate(text: str) -> str:
    """Evaluate the first arithmetic expression in `text`; integers print without `.0`."""
    match = ARITHMETIC.search(text)
    if not match:
        raise ToolError("no arithmetic expression found")
    expression = re.sub(r"\s+", "", match.group(0))
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise ToolError(f"cannot parse {expression!r}") from error
    value = _evaluate(tree.body)
    shown = str(int(value)) if value.is_integer() else f"{value:.6g}"
    return f"{expression} = {shown}"
