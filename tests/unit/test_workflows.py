"""The GitHub workflows against our own task collection and the actions' current majors.

Every `./dev …` command in .github/workflows/*.yml (and in .ci/run, which the suite job runs) is
parsed with invoke's own parser, built the way `invoke.Program` builds it (invoke 3.0.3,
program.py `_make_parser`: `Parser(initial=self.initial_context, contexts=collection.to_contexts())`),
so a workflow can never again call a task or a flag that does not exist (`--k` for `-k`: issue 11,
defect 1). Then the required positional arguments are checked, as Program.parse_cleanup does.
"""

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from invoke.parser import ParseError, Parser
from invoke.program import Program

from tasks import ns

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github/workflows").glob("*.y*ml"))
SHELL_OPERATORS = {"&&", "||", ";", "|", "&", ">", ">>", "<", "<<", "(", ")", "2>", "2>&1"}
# Current majors, each on the node24 runtime (checked in the actions' repositories: tags and
# action.yml `runs.using`); older majors run on node20, deprecated on GitHub's runners.
CURRENT_MAJORS = {"actions/checkout": 7, "actions/setup-python": 7, "actions/upload-artifact": 7}


def dev_commands(script: str) -> Iterator[list[str]]:
    """The argv after each `./dev` in a shell script (continuation lines joined, operators cut)."""
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        for index, token in enumerate(tokens):
            if token == "./dev":
                argv: list[str] = []
                for part in tokens[index + 1:]:
                    if part in SHELL_OPERATORS or part.startswith(("|", ";", "&", ">", "<")):
                        break
                    argv.append(part)
                yield argv


def run_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for job_name, job in (workflow.get("jobs") or {}).items():
        for number, step in enumerate(job.get("steps") or []):
            if "run" in step:
                yield f"{job_name} step {number + 1} ({step.get('name', step['run'][:30])})", step["run"]


def all_dev_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in WORKFLOWS:
        for where, script in run_scripts(yaml.safe_load(path.read_text())):
            found += [(f"{path.name}: {where}", argv) for argv in dev_commands(script)]
    ci_run = ROOT / ".ci/run"
    found += [(".ci/run", argv) for argv in dev_commands(ci_run.read_text())]
    return found


def parse_like_inv(argv: list[str]) -> None:
    """Parse argv as `inv` would with tasks.py's collection; raise ParseError when it would refuse."""
    parser = Parser(initial=Program(namespace=ns).initial_context, contexts=ns.to_contexts())
    for context in parser.parse_argv(argv):
        missing = getattr(context, "missing_positional_args", [])
        if missing:
            names = ", ".join(arg.name for arg in missing)
            raise ParseError(f"'{context.name}' did not receive required positional arguments: {names}")


def test_the_extractor_reads_multi_line_steps_and_stops_at_shell_operators() -> None:
    script = ("set -e\nSTACKYARD_REQUIRE_KIND=1 ./dev test --layer e2e \\\n  -k test_kind\n"
              "./dev status --stage ci || true\n./dev logs --tail 5 >> out.txt  # the logs\n")
    assert list(dev_commands(script)) == [["test", "--layer", "e2e", "-k", "test_kind"],
                                          ["status", "--stage", "ci"], ["logs", "--tail", "5"]]


def test_the_parser_refuses_what_inv_refuses() -> None:
    parse_like_inv(["test", "--layer", "e2e", "-k", "test_kind"])
    with pytest.raises(ParseError, match="No idea what '--k' is"):
        parse_like_inv(["test", "--layer", "e2e", "--k", "test_kind"])  # the line defect 1 found
    with pytest.raises(ParseError, match="No idea what 'no-such-task' is"):
        parse_like_inv(["no-such-task"])
    with pytest.raises(ParseError, match="needed value"):
        parse_like_inv(["up", "--stage"])


def test_every_dev_command_in_the_workflows_parses_against_our_tasks() -> None:
    commands = all_dev_commands()
    jobs_with_dev = {where.split(" step ")[0] for where, _ in commands}
    assert any(w.startswith("ci.yml: kind") for w in jobs_with_dev), \
        f"the workflows' ./dev commands were not found: {commands}"
    wrong = []
    for where, argv in commands:
        try:
            parse_like_inv(argv)
        except ParseError as error:
            wrong.append(f"{where}: ./dev {' '.join(argv)} → {error}")
    assert not wrong, "\n".join(wrong)


def test_every_action_is_at_its_current_major() -> None:
    used = []
    for path in WORKFLOWS:
        for job in (yaml.safe_load(path.read_text()).get("jobs") or {}).values():
            used += [(path.name, step["uses"]) for step in job.get("steps") or [] if "uses" in step]
    assert used, "no actions found"
    wrong = []
    for name, uses in used:
        action, _, ref = uses.partition("@")
        if action not in CURRENT_MAJORS:
            wrong.append(f"{name}: {uses} has no known current major here: add it to CURRENT_MAJORS")
        elif not ref.startswith("v") or int(ref[1:].split(".")[0]) < CURRENT_MAJORS[action]:
            wrong.append(f"{name}: {uses} is older than v{CURRENT_MAJORS[action]} (node20, deprecated)")
    assert not wrong, "\n".join(wrong)


def test_every_job_has_a_timeout_and_reports_are_uploaded_always() -> None:
    for path in WORKFLOWS:
        jobs = yaml.safe_load(path.read_text())["jobs"]
        for name, job in jobs.items():
            assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: job {name} has no timeout-minutes"
        for name in ("suite", "kind"):
            if name in jobs:
                uploads = [s for s in jobs[name]["steps"]
                           if str(s.get("uses", "")).startswith("actions/upload-artifact")]
                assert uploads and all(s.get("if") == "always()" for s in uploads), \
                    f"{name}: reports not uploaded always"
