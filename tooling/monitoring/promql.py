"""PromQL expressions: where one is written, and the metric names it reads."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tooling.errors import StackyardError


@dataclass(frozen=True)
class Expression:
    where: str   # e.g. "deploy/monitoring/rules/x.rules.yml: AlertName" or "board.json: Panel title"
    expr: str


_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<duration>\d+(?:ms|s|m|h|d|w|y)\b)
  | (?P<number>(?:0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<var>\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?)
  | (?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},@])
  | (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
""", re.VERBOSE)
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
                 "count_values", "group"}
_KEYWORDS = _LABEL_LISTS | _AGGREGATIONS | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
                                            "start", "end"}


def _tokens(expr: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(expr):
        match = _TOKEN.match(expr, position)
        if not match or match.end() == position:
            raise StackyardError(f"cannot read PromQL at {expr[position:position + 20]!r} in {expr!r}",
                                 "fix the expression")
        position = match.end()
        kind = match.lastgroup or ""
        if kind not in ("space", "comment"):
            yield kind, match.group()


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are neither functions, keywords,
    label names inside {...} nor labels listed after by/without/on/ignoring/group_*."""
    tokens = list(_tokens(expr))
    names: set[str] = set()
    braces = 0
    skip_list = False
    depth_at_list: int | None = None
    parens = 0
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if text == "{":
            braces += 1
        elif text == "}":
            braces -= 1
        elif text == "(":
            parens += 1
            if skip_list:
                depth_at_list, skip_list = parens, False
        elif text == ")":
            if depth_at_list == parens:
                depth_at_list = None
            parens -= 1
        elif kind == "ident" and braces == 0 and depth_at_list is None:
            if text in _LABEL_LISTS:
                skip_list = following == "("
            elif text in _KEYWORDS or following == "(":
                continue
            else:
                names.add(text)
    return names
