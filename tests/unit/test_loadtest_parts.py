"""Load profiles, raw-sample analysis, the samplers' parsers and the run's argv/env — no Docker, no locust."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tooling import config
from tooling.compose import ServiceState
from tooling.errors import StackyardError
from tooling.loadtest import analysis as loadtest_analysis
from tooling.loadtest import profiles as loadtest_profiles
from tooling.loadtest import runner as loadtest
from tooling.loadtest import sampler as loadtest_sampler

FIXTURES = Path(__file__).parent / "fixtures" / "loadtest"
ROOT = Path(__file__).resolve().parents[2]
BASE = config.load("dev", ROOT / "envs", environ={}).loadtest  # the models have no defaults of their own


# -- profiles -------------------------------------------------------------------------------------

def test_step_goes_up_in_four_stairs_then_down_and_ends_on_time() -> None:
    plan = loadtest_profiles.stages("step", 40, 5, 140)
    assert [s.users for s in plan] == [10, 20, 30, 40, 30, 20, 10]
    assert plan[-1].end == 140
    assert loadtest_profiles.tick(plan, 0) == (10, 5) and loadtest_profiles.tick(plan, 139.9) == (10, 5)
    assert loadtest_profiles.tick(plan, 140) is None


def test_spike_jumps_to_all_users_at_once_in_the_middle() -> None:
    plan = loadtest_profiles.stages("spike", 50, 5, 100)
    assert [(s.end, s.users) for s in plan] == [(40, 10), (60, 50), (100, 10)]
    assert plan[1].spawn_rate == 50  # the jump is sudden
    assert loadtest_profiles.peak_users(plan) == 50


def test_smoke_and_soak_hold_and_profiles_roundtrip_through_json() -> None:
    plan = loadtest_profiles.stages("soak", 7, 2, 600)
    assert plan == [loadtest_profiles.Stage(600, 7, 2)]
    assert loadtest_profiles.from_json(loadtest_profiles.to_json(plan)) == plan


def test_unknown_profile_and_bad_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        loadtest_profiles.stages("ramp", 5, 1, 10)
    with pytest.raises(ValueError):
        loadtest_profiles.stages("smoke", 0, 1, 10)


def test_command_line_overrides_replace_only_what_is_given() -> None:
    chosen = loadtest.resolve_profile(BASE, "step", users=12, duration=70)
    assert (chosen.users, chosen.spawn_rate, chosen.duration_seconds) == (12, 5, 70)
    with pytest.raises(StackyardError, match="unknown profile"):
        loadtest.resolve_profile(BASE, "burst")


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("45s", 45), ("5m", 300), ("1h30m", 5400)])
def test_durations(text: str, seconds: int) -> None:
    assert loadtest.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "m", "0"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(StackyardError, match="not a duration"):
        loadtest.parse_duration(text)


# -- analysis -------------------------------------------------------------------------------------

def test_percentiles_are_exact_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [loadtest_analysis.percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert loadtest_analysis.percentile([], 50) is None


def test_a_line_cut_short_by_a_killed_generator_is_skipped() -> None:
    samples = loadtest_analysis.parse([
        '{"k":"req","t":1,"n":"POST /v1/tasks [chat]","ms":12,"ok":true}', '{"k":"req","t":2,"n":"GET /v1/ta',
        '{"k":"task","t":3,"n":"chat end to end","ms":250,"ok":false,"e":"not done after 60s"}'])
    assert len(samples.requests) == 1 and len(samples.tasks) == 1
    assert (samples.start, samples.end) == (1, 3)


def test_series_leave_gaps_where_a_bucket_has_no_samples() -> None:
    samples = loadtest_analysis.parse([
        '{"k":"req","t":0,"n":"POST /v1/tasks [chat]","ms":10,"ok":true}',
        '{"k":"req","t":9.5,"n":"POST /v1/tasks [chat]","ms":30,"ok":false,"e":"500"}',
        '{"k":"cpu","t":5,"cpu":0.4,"users":3}'])
    series = loadtest_analysis.series(samples, step=2)
    assert series.accept_p50 == [10, None, None, None, None]  # the failed request has no latency
    assert series.errors_per_second[-1] == 0.5 and series.users[2] == 3


# -- samplers' parsers ----------------------------------------------------------------------------

def test_docker_stats_to_cores_per_service() -> None:
    stats = loadtest_sampler.parse_docker_stats((FIXTURES / "docker-stats.jsonl").read_text())
    assert stats["stackyard-load-worker-1"] == 0.125 and stats["stackyard-load-model-1"] == 0.0
    states = [ServiceState("worker", "stackyard-load-worker-1", "running", "healthy"),
              ServiceState("worker", "stackyard-load-worker-2", "running", "healthy"),
              ServiceState("gateway", "stackyard-load-gateway-1", "running", "healthy"),
              ServiceState("model", "stackyard-load-model-1", "exited", "none")]
    sample = loadtest_sampler.compose_sample(states, stats, 5.0)
    assert sample.replicas == {"worker": 2, "gateway": 1}
    assert sample.cpu_cores == {"worker": 0.1975, "gateway": 1.01}


def test_cluster_sample_from_recorded_kubectl_output() -> None:
    hpas = json.loads((FIXTURES / "hpa.json").read_text())
    pods = json.loads((FIXTURES / "pods.json").read_text())
    sample = loadtest_sampler.cluster_sample(hpas, pods, (FIXTURES / "top.txt").read_text(), 42.0)
    # the pending pod and the terminating one are not ready
    assert sample.replicas == {"worker": 2, "gateway": 1, "postgres": 1}
    assert sample.desired == {"worker": 4, "gateway": 1} and sample.minimum == {"worker": 1, "gateway": 1}
    assert sample.cpu_cores == {"worker": 0.41, "gateway": 1.0, "postgres": 0.035}


@pytest.mark.parametrize(("text", "cores"), [("250m", 0.25), ("1", 1.0), ("1500000n", 0.0015), ("2k", 2000)])
def test_cpu_quantities(text: str, cores: float) -> None:
    assert loadtest_sampler.parse_cpu_quantity(text) == pytest.approx(cores)


def test_a_failing_probe_is_counted_not_fatal() -> None:
    calls = iter([ValueError("no metrics yet"), loadtest_sampler.ReplicaSample(1.0, {"worker": 1})])

    def probe() -> loadtest_sampler.ReplicaSample:
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    sampler = loadtest_sampler.Sampler(probe, 0.01)
    assert sampler.sample_once() is None and sampler.sample_once() is not None
    assert sampler.failures == ["no metrics yet"] and len(sampler.samples) == 1


# -- the locust process ---------------------------------------------------------------------------

def spec(tmp_path: Path, url: str = "http://127.0.0.1:8080") -> loadtest.RunSpec:
    return loadtest.RunSpec(target="compose", profile="smoke", url=url, users=3, spawn_rate=3, duration=5,
                            report_dir=tmp_path, stage="dev", api_key="secret-key")


def test_locust_runs_headless_as_its_own_process_and_the_key_stays_off_argv(tmp_path: Path) -> None:
    argv = loadtest.locust_args(Path("/repo"), spec(tmp_path), tmp_path / "locust")
    assert argv[:2] == ["-f", "/repo/tooling/loadtest/locustfile.py"]
    assert "--headless" in argv and "--csv-full-history" in argv
    assert not any("secret-key" in part for part in argv)
    env = loadtest.locust_env(spec(tmp_path), loadtest_profiles.stages("smoke", 3, 3, 5), tmp_path / "s.jsonl")
    assert env["STACKYARD_LOAD_API_KEY"] == "secret-key"
    assert json.loads(env["STACKYARD_LOAD_STAGES"]) == [{"end": 5, "users": 3, "spawn_rate": 3}]


@pytest.mark.parametrize("url", ["http://10.0.0.5:8080", "https://staging.example.com", "http://192.168.1.2"])
def test_load_only_goes_to_this_machine(url: str) -> None:
    with pytest.raises(loadtest.LoadRunError, match="only this machine's loopback"):
        loadtest.ensure_local(url)


def test_the_toolkit_never_imports_locust() -> None:
    """gevent would patch the toolkit (and pytest) process: locust must stay in its own."""
    code = ("import sys, tasks, tooling.loadtest.scaling, tooling.loadtest.capacity; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_saturated_machine_is_called_out() -> None:
    assert "saturated (load average 9.0 on 2 cores)" in loadtest.host_saturation(1.0, 9.0, 2)
    assert loadtest.host_saturation(1.0, 2.5, 2) == ""
