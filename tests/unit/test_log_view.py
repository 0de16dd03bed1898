"""`inv logs` lines (tooling/log_view.py): compose's prefix, a stable colour per service, our
services' JSON log lines shown compactly, anything else as it is."""

import json
import logging
import sys
from pathlib import Path

import pytest

from services.stackyard.common.logs import JsonFormatter, request_id_var
from tooling import compose, log_view
from tooling.cli import run as seam
from tooling.errors import StackyardError

ROOT = Path(__file__).resolve().parents[2]


def _record(msg: str, level: int = logging.INFO, fields: dict[str, object] | None = None,
            exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    record = logging.LogRecord("stackyard.worker", level, __file__, 1, msg, None, exc_info)
    record.created = 1796693425.931  # 2026-12-08T01:30:25.931Z
    record.msecs = 931
    if fields:
        record.fields = fields
    return record


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert log_view.use_colour(isatty=True, no_color_env=None, no_color_flag=False)
    assert not log_view.use_colour(isatty=False, no_color_env=None, no_color_flag=False)
    assert not log_view.use_colour(isatty=True, no_color_env="1", no_color_flag=False)
    assert not log_view.use_colour(isatty=True, no_color_env=None, no_color_flag=True)
    assert log_view.use_colour(isatty=True, no_color_env="", no_color_flag=False), "NO_COLOR='' does not count"


def test_each_known_service_has_its_own_colour_and_others_a_stable_one() -> None:
    colours = [log_view.colour_for(name, compose.SERVICES) for name in compose.SERVICES]
    assert len(set(colours)) == len(compose.SERVICES)
    assert "31" not in colours, "red is the error level's colour"
    assert log_view.colour_for("worker", compose.SERVICES) == log_view.colour_for("worker", compose.SERVICES)
    # Not Python's hash(), which changes per process: the same colour in another interpreter.
    other = [sys.executable, "-c", "from tooling import log_view; print(log_view.colour_for('prometheus'))"]
    assert seam.run(other, cwd=str(ROOT)).strip() == log_view.colour_for("prometheus")


def test_compose_prefix_names_the_service_and_the_replica() -> None:
    assert log_view.split_prefix("worker-1  | hello | world") == (log_view.Source("worker", "worker"),
                                                                  "hello | world")
    assert log_view.split_prefix("worker-2  | x") == (log_view.Source("worker", "worker-2"), "x")
    assert log_view.split_prefix("alert-receiver-1  | up") == (log_view.Source("alert-receiver", "alert-receiver"),
                                                               "up")
    assert log_view.split_prefix("gateway-1  |") == (log_view.Source("gateway", "gateway"), "")
    assert log_view.split_prefix("no prefix here") == (None, "no prefix here")


def test_a_service_json_line_is_shown_compactly_with_its_fields_and_traceback() -> None:
    formatter = JsonFormatter("worker")
    token = request_id_var.set("req-1")
    try:
        line = formatter.format(_record("task done", fields={"task_id": "t-9", "seconds": 0.25, "note": "two words"}))
        try:
            raise ValueError("boom")
        except ValueError as error:
            failed = formatter.format(_record("task failed", logging.ERROR, exc=error))
    finally:
        request_id_var.reset(token)
    assert log_view.compact(line) == ['01:30:25.931 info    task done  request_id=req-1  task_id=t-9  seconds=0.25'
                                      '  note="two words"']
    head, *traceback = log_view.compact(failed)
    assert head == "01:30:25.931 error   task failed  request_id=req-1"
    assert traceback[0] == "    Traceback (most recent call last):" and traceback[-1] == "    ValueError: boom"
    assert log_view.one_line(failed) == "01:30:25.931 error   task failed  request_id=req-1  (ValueError: boom)"


def test_other_lines_pass_as_they_are() -> None:
    for text in ('10.0.0.1 - - [08/Dec/2026:01:30:25 +0000] "GET /healthz HTTP/1.1" 200', "{not json",
                 '{"a": 1}', "[1, 2]", ""):
        assert log_view.compact(text) == [text]


def test_render_prefixes_every_row_and_colours_only_when_asked() -> None:
    line = json.dumps({"ts": "2026-12-08T01:30:25.931Z", "level": "warning", "service": "gateway",
                       "logger": "x", "msg": "slow", "error": "Traceback\nKeyError: 'k'"}) + "\n"
    plain = log_view.render(f"gateway-1  | {line}", width=9, colour=False, known=compose.SERVICES)
    assert plain == ["gateway   | 01:30:25.931 warning slow", "gateway   |     Traceback",
                     "gateway   |     KeyError: 'k'"]
    assert all("\x1b" not in row for row in plain)
    coloured = log_view.render(f"gateway-1  | {line}", width=9, colour=True, known=compose.SERVICES)
    code = log_view.colour_for("gateway", compose.SERVICES)
    assert coloured[0].startswith(f"\x1b[{code}mgateway  \x1b[0m | ")
    assert "\x1b[33mwarning\x1b[0m" in coloured[0]
    assert log_view.render(f"worker-2  | {line}", width=9, colour=False, raw=True) == [f"worker-2  | {line.strip()}"]
    assert log_view.render("compose says something\n", width=9, colour=True) == ["compose says something"]


def test_unknown_service_names_the_valid_ones(tmp_path: Path) -> None:
    from tooling import config

    cfg = config.load("ci", ROOT / "envs", environ={})
    with pytest.raises(StackyardError) as caught:
        compose.logs(tmp_path, cfg, ["gateway", "gatewya"], follow=False, tail=None)
    assert "'gatewya'" in caught.value.message and "'gateway'" not in caught.value.message
    assert all(name in caught.value.hint for name in (*compose.SERVICES, "prometheus"))
    with pytest.raises(StackyardError, match="never started"):
        compose.logs(tmp_path, cfg, ["gateway", "worker"], follow=False, tail=None)
