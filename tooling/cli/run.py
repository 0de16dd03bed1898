"""The one seam through which tooling runs external commands.

Commands are argv lists, never shell strings. A failure raises `CommandError` carrying the argv,
the exit code and stderr. `STACKYARD_DEBUG=1` echoes every argv to stderr.

Only the adapters in tooling/cli/ call it, always as `seam.run(...)` after
`from tooling.cli import run as seam`, so a unit test fakes every command by patching
`tooling.cli.run.run` in this one place.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

from tooling.errors import CommandError, ToolMissing


def require(tool: str, install_hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(tool, install_hint)
    return path


def run(
    argv: Sequence[str],
    *,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> str:
    """Run argv; return stdout (decoded). Raise CommandError on a non-zero exit or a timeout."""
    args = [str(part) for part in argv]
    if os.environ.get("STACKYARD_DEBUG") == "1":
        print(f"+ {' '.join(args)}", file=sys.stderr, flush=True)
    try:
        completed = subprocess.run(
            args,
            input=input,
            env={**os.environ, **env} if env else None,
            cwd=cwd,
            timeout=timeout,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise CommandError(args, -1, f"timed out after {timeout}s") from error
    except FileNotFoundError as error:
        raise CommandError(args, 127, f"{args[0]}: command not found") from error
    if completed.returncode != 0:
        stderr = (completed.stderr or b"").decode(errors="replace")
        raise CommandError(args, completed.returncode, stderr)
    return (completed.stdout or b"").decode(errors="replace")
