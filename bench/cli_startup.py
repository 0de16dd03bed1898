"""How long `inv --list` takes, as a ratio against invoke alone and against eager imports, in one run.

    .venv/bin/python bench/cli_startup.py [--runs 5]

Three commands, each run --runs times in a fresh process, timed with wait4's rusage (CPU = user +
system of the child) and a wall clock; the median of each is printed:
  invoke alone  `inv --list` over a one-task tasks.py: the floor no task module can go under
  stackyard     `inv --list` in this repo (task modules import their logic only when a task runs)
  eager         the same, after importing every logic module up front (what `inv --list` cost
                before the imports moved into the tasks)
Issue 12's target is stackyard ≤ 0.3 s wall (median of 5)."""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INV = Path(sys.executable).with_name("inv")
EAGER = ("tooling.config", "tooling.images", "tooling.compose", "tooling.cluster", "tooling.k8s",
         "tooling.loadtest.runner", "tooling.loadtest.scaling", "tooling.loadtest.capacity", "tooling.monitoring",
         "tooling.doctor.run", "tooling.cli.docker")


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: run the command with its output discarded
        os.chdir(cwd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execve(argv[0], argv, env or dict(os.environ))
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd}")
    return wall, usage.ru_utime + usage.ru_stime


def median_of(runs: int, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    timed(argv, cwd, env)  # warm the page cache once, unmeasured
    samples = [timed(argv, cwd, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        floor_dir, eager_dir = Path(scratch, "floor"), Path(scratch, "eager")
        floor_dir.mkdir()
        eager_dir.mkdir()
        (floor_dir / "tasks.py").write_text("from invoke import task\n\n\n@task\ndef hello(c):\n    pass\n")
        imports = "".join(f"import {name}\n" for name in EAGER)
        (eager_dir / "tasks.py").write_text(
            f"{imports}import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('stackyard_tasks', {str(ROOT / 'tasks.py')!r})\n"
            "module = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(module)\nns = module.ns\n")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        rows = [("invoke alone", median_of(runs, [str(INV), "--list"], floor_dir)),
                ("stackyard", median_of(runs, [str(INV), "--list"], ROOT)),
                ("eager", median_of(runs, [str(INV), "--list"], eager_dir, env))]
    base_wall, base_cpu = rows[0][1]
    ours_wall = rows[1][1][0]
    print(f"`inv --list`, median of {runs} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'':<14}{'wall s':>8}{'cpu s':>8}{'× invoke':>10}{'× stackyard':>13}")
    for name, (wall, cpu) in rows:
        print(f"{name:<14}{wall:>8.3f}{cpu:>8.3f}{wall / base_wall:>10.2f}{wall / ours_wall:>13.2f}")
    print(f"target: stackyard ≤ 0.300 s wall — {'met' if ours_wall <= 0.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
