"""`inv config.show` / `inv config.diff`: values with their origin (file:line, variable, flag)."""

import json
import subprocess
import sys
from pathlib import Path

from tooling import config
from tooling.config import explain

ROOT = Path(__file__).resolve().parents[2]
ENVS = ROOT / "envs"


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if line.strip().startswith(text))


def _rows(stage: str, **kwargs: object) -> dict[str, explain.Row]:
    loaded = config.load_with_origins(stage, ENVS, **kwargs)  # type: ignore[arg-type]
    return {row.key: row for row in explain.show(*loaded, ROOT)}


def test_each_value_names_the_file_and_line_it_came_from() -> None:
    rows = _rows("dev", environ={})
    assert rows["gateway.max_backlog"].origin == f"envs/base.yaml:{_line_of(ENVS / 'base.yaml', 'max_backlog:')}"
    assert rows["gateway.require_api_key"].value is False
    assert rows["gateway.require_api_key"].origin == f"envs/dev.yaml:{_line_of(ENVS / 'dev.yaml', 'require_api_key:')}"
    assert rows["delivery.claim_idle_ms"].read_by == [
        f"{c} (STACKYARD_CLAIM_IDLE_MS)" for c in ("gateway", "orchestrator", "worker")]
    assert rows["worker.replicas"].read_by[0].startswith("toolkit: compose only")
    assert rows["stage"].value == "dev"


def test_variables_and_flags_are_named_as_the_origin() -> None:
    rows = _rows("kind", environ={"STACKYARD__GATEWAY__MAX_BACKLOG": "4711"}, overrides={"gateway.port": 8081})
    assert (rows["gateway.max_backlog"].value, rows["gateway.max_backlog"].origin) == (
        4711, "environment variable STACKYARD__GATEWAY__MAX_BACKLOG")
    assert (rows["gateway.port"].value, rows["gateway.port"].origin) == (8081, "command-line flag (gateway.port)")


def test_diff_lists_only_what_differs_with_both_origins() -> None:
    staging = config.load_with_origins("staging", ENVS, environ={})
    production = config.load_with_origins("production", ENVS, environ={})
    rows = {row.key: row for row in explain.diff(staging, production, ROOT)}
    assert "stage" not in rows and "gateway.max_backlog" not in rows
    log = rows["log_level"]
    assert (log.a, log.b) == ("INFO", "WARNING")
    assert log.origin_a.startswith("envs/base.yaml:") and log.origin_b.startswith("envs/production.yaml:")
    assert explain.diff(staging, staging, ROOT) == []


def test_the_task_prints_json_and_names_an_unknown_key() -> None:
    inv = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]
    shown = subprocess.run([*inv, "config.show", "--stage", "ci", "--key", "model", "--json"],
                           capture_output=True, text=True, check=True, cwd=ROOT)
    rows = json.loads(shown.stdout)
    assert {row["key"] for row in rows} == {"model.name", "model.first_token_ms", "model.tokens_per_second",
                                            "model.cpu_ms_per_token"}
    missing = subprocess.run([*inv, "config.show", "--key", "gateway.nope"], capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 1 and "no key 'gateway.nope'" in missing.stderr
    diffed = subprocess.run([*inv, "config.diff", "dev", "ci", "--json"], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    assert "model.first_token_ms" in {row["key"] for row in json.loads(diffed.stdout)}
