"""The one error family of the toolkit, and its one exit-code policy.

Every failure the toolkit reports is a `StackyardError`: what went wrong, and what to do next.
External commands fail as `CommandError` (argv, exit code, stderr), missing tools as
`ToolMissing` (what to install); both are StackyardErrors, so one `except` handles them all.

Exit codes (applied in one place, tooling/tasks/common.py `friendly`):
  0  done
  1  the operation ran and failed (the default for any StackyardError)
  2  the operation could not start (tasks that promise this to scripts — `inv loadtest`,
     where 1 is an SLO breach — declare it with `@friendly(could_not_start=2)`)
  130 interrupted (Ctrl-C)
"""

from collections.abc import Sequence

EXIT_FAILED = 1
EXIT_COULD_NOT_START = 2
EXIT_INTERRUPTED = 130


class StackyardError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class CommandError(StackyardError):
    """An external command exited non-zero (or timed out, or was not found: exit code 127)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = [str(part) for part in argv]
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-5:]
        detail = "\n    ".join(tail) if tail else "(no output on stderr)"
        super().__init__(f"`{' '.join(self.argv)}` exited with {returncode}:\n    {detail}")


class ToolMissing(StackyardError):
    """A tool the operation needs is not installed; `install_hint` says how to get it."""

    def __init__(self, tool: str, install_hint: str) -> None:
        self.tool = tool
        self.install_hint = install_hint
        super().__init__(f"`{tool}` is not installed: {install_hint}")
