"""Load shapes as plain data: a profile becomes a list of stages that the locust shape follows.

Pure and free of locust, so the toolkit (which must never import locust: gevent patches the
process) and the locustfile (its own process) share one definition. A stage holds until its
`end` second, with `users` users, spawned or stopped at `spawn_rate` per second.

  smoke  ramp to `users`, hold for the duration (seconds: a quick "does it work under load")
  step   stairs up to `users` in four equal steps, then three steps down
  spike  a fifth of `users`, a sudden jump to all of them, back to a fifth
  soak   ramp to `users`, hold for the (long) duration
"""

import json
import math
from dataclasses import asdict, dataclass

PROFILES = ("smoke", "step", "spike", "soak")
STEP_LEVELS = (0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25)
SPIKE_PHASES = ((0.4, 0.2), (0.2, 1.0), (0.4, 0.2))  # (share of the duration, share of the users)


@dataclass(frozen=True)
class Stage:
    end: float  # seconds since the start of the run
    users: int
    spawn_rate: float


def stages(profile: str, users: int, spawn_rate: float, duration: float) -> list[Stage]:
    """The stages of `profile`; `duration` is the whole run, ramps included."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    if users < 1 or spawn_rate <= 0 or duration <= 0:
        raise ValueError("users must be ≥ 1, spawn rate and duration > 0")
    if profile in ("smoke", "soak"):
        return [Stage(duration, users, spawn_rate)]
    if profile == "step":
        each = duration / len(STEP_LEVELS)
        return [Stage(round(each * (i + 1), 3), max(1, math.ceil(users * level)), spawn_rate)
                for i, level in enumerate(STEP_LEVELS)]
    result, end = [], 0.0
    for share, level in SPIKE_PHASES:
        end += duration * share
        # The jump itself is sudden: all users arrive within about a second.
        rate = max(spawn_rate, float(users)) if level == 1.0 else spawn_rate
        result.append(Stage(round(end, 3), max(1, math.ceil(users * level)), rate))
    return result


def tick(plan: list[Stage], elapsed: float) -> tuple[int, float] | None:
    """What locust's LoadTestShape.tick returns: (users, spawn rate), or None when the run is over."""
    for stage in plan:
        if elapsed < stage.end:
            return stage.users, stage.spawn_rate
    return None


def peak_users(plan: list[Stage]) -> int:
    return max(stage.users for stage in plan)


def to_json(plan: list[Stage]) -> str:
    return json.dumps([asdict(stage) for stage in plan])


def from_json(text: str) -> list[Stage]:
    return [Stage(float(item["end"]), int(item["users"]), float(item["spawn_rate"])) for item in json.loads(text)]
