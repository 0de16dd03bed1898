"""Every task's `--help` shows an example, and every example parses as a real command line of that task."""

import re
import shlex

import pytest
from invoke.parser import Parser

from tasks import ns

CONTEXTS = ns.to_contexts()
EXAMPLE = re.compile(r"`inv ([^`]+)`")


def _examples(name: str) -> list[str]:
    docstring = ns[name].__doc__ or ""
    line = [ln for ln in docstring.splitlines() if ln.strip().startswith("Example:")]
    return EXAMPLE.findall(line[0]) if line else []


@pytest.mark.parametrize("name", sorted(ns.task_names))
def test_every_task_help_has_an_example_that_parses(name: str) -> None:
    examples = _examples(name)
    assert examples, f"`inv {name} --help` shows no `Example: \\`inv …\\`` line: add one to its docstring"
    for example in examples:
        words = shlex.split(example.split("|")[0])
        parsed = Parser(contexts=CONTEXTS).parse_argv(words)  # raises ParseError on an unknown flag
        called = {ctx.name for ctx in parsed}
        aliases = {name, *ns.task_names[name]}
        assert called & aliases or any(ctx.name in aliases for ctx in parsed), (example, called)
