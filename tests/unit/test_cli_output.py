"""What a daily user of `inv` sees on the terminal, outside any one task."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INV = [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]


@pytest.mark.parametrize("args", [["--list"], ["k8s.render"], ["config.show"]])
def test_output_piped_into_head_ends_without_a_traceback(args: list[str]) -> None:
    process = subprocess.Popen([*INV, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # what `| head -1` reads, then it goes away
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert first.strip()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
