"""Monitoring as code, without Docker: PromQL names, generated SLO rules, coverage of the rule
tests, runbooks, dashboards, routing and the rendered compose variant."""

import json
import re
from pathlib import Path

import pytest
import yaml

from tooling import compose_env, config, images, monitoring
from tooling.errors import StackyardError

ROOT = Path(__file__).resolve().parents[2]


def test_metric_names_skip_functions_keywords_labels_and_durations() -> None:
    expr = ('histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{route!~"/x|/y",le="0.5"}[5m])))'
            ' / on (service) group_left (pod) b offset 1h > bool 3 and ignoring(x) c unless d @ start()'
            ' or sum without (instance) (max_over_time(e[5m:1m])) or vector(0) + count(f)')
    assert monitoring.metric_names(expr) == {"a_bucket", "b", "c", "d", "e", "f"}


def test_metric_names_ignore_strings_comments_and_aggregation_keywords() -> None:
    expr = 'label_replace(sum(x) by (stream), "service", "worker", "stream", "stackyard:steps") # y\n'
    assert monitoring.metric_names(expr) == {"x"}


def test_exposed_metrics_follow_prometheus_client_suffixes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from prometheus_client import Counter, Gauge, Histogram\n"
        "import prometheus_client as pc\n"
        'A = Counter("jobs_total", "x", ["k"])\nB = Counter("raw", "x")\n'
        'C = Histogram("latency_seconds", "x")\nD = pc.Gauge("depth", "x")\n')
    exposed = set(monitoring.exposed_metrics(tmp_path))
    assert exposed == {"jobs_total", "jobs_created", "raw_total", "raw_created", "latency_seconds",
                       "latency_seconds_bucket", "latency_seconds_sum", "latency_seconds_count",
                       "latency_seconds_created", "depth"}


def test_the_services_expose_every_metric_the_rules_are_built_on() -> None:
    exposed = monitoring.exposed_metrics(ROOT / monitoring.SERVICES_SOURCE)
    for name in ("http_requests_total", "http_request_duration_seconds_bucket", "stackyard_tasks_finished_total",
                 "stackyard_queue_backlog", "stackyard_pending_entries", "stackyard_queue_oldest_age_seconds",
                 "stackyard_dead_letters_total", "stackyard_tasks_rejected_total", "stackyard_model_tokens_total"):
        assert name in exposed, f"{name} is not defined under {monitoring.SERVICES_SOURCE}"


def test_every_rule_and_panel_reads_only_known_metrics() -> None:
    expressions = [*monitoring.rule_expressions(ROOT), *monitoring.panel_expressions(ROOT)]
    assert len(expressions) > 50
    assert monitoring.check_names(expressions, monitoring.known_metrics(ROOT)) == []


def test_name_check_reports_a_misspelt_metric() -> None:
    known = monitoring.known_metrics(ROOT)
    problems = monitoring.check_names([monitoring.Expression("x.json: Panel", "rate(http_request_total[5m])")], known)
    assert problems == ["x.json: Panel: reads http_request_total, which no service exposes and no rule records"]


def test_committed_slo_rules_are_the_generator_output() -> None:
    assert (ROOT / monitoring.SLO_RULES_FILE).read_text() == monitoring.slo_rules_text(), \
        "run `inv monitoring.generate` and commit deploy/monitoring/rules/slo.rules.yml"


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    rules = {r["alert"]: r for g in monitoring.slo_rules()["groups"] for r in g["rules"] if "alert" in r}
    page = rules["TaskAvailabilityBurnRatePage"]["expr"]
    assert "slo:sli_error:ratio_rate1h{slo=\"task-availability\"} > (14.4 * 0.005)" in page
    assert "slo:sli_error:ratio_rate5m{slo=\"task-availability\"} > (14.4 * 0.005)" in page
    assert "ratio_rate6h{slo=\"task-availability\"} > (6 * 0.005)" in page and "ratio_rate30m" in page
    ticket = rules["TaskAcceptanceLatencyBurnRateTicket"]["expr"]
    assert "ratio_rate1d{slo=\"task-acceptance-latency\"} > (3 * 0.01)" in ticket and "ratio_rate2h" in ticket
    assert "ratio_rate3d{slo=\"task-acceptance-latency\"} > (1 * 0.01)" in ticket and "ratio_rate6h" in ticket


def test_time_compressed_variant_scales_windows_and_for_but_keeps_names() -> None:
    assert monitoring.scaled("1h", 30) == "2m" and monitoring.scaled("5m", 30) == "10s"
    assert monitoring.scaled("3d", 30) == "144m" and monitoring.scaled("30m", 1) == "30m"
    fast = {r.get("record") or r["alert"]: r for g in monitoring.slo_rules(30)["groups"] for r in g["rules"]}
    assert "[2m]" in fast["slo:sli_error:ratio_rate1h"]["expr"]
    assert fast["TaskAvailabilityBurnRatePage"]["for"] == "4s"
    assert monitoring.slo_rules(1)["groups"][0]["rules"][0]["record"] == fast["slo:sli_error:ratio_rate5m"]["record"]
    with pytest.raises(StackyardError, match="not a Prometheus duration"):
        monitoring.seconds("5 minutes")


def test_every_alert_has_severity_summary_description_and_an_existing_runbook() -> None:
    alerts = monitoring.alert_rules(ROOT)
    assert len(alerts) >= 13
    for rule in alerts:
        assert rule["labels"]["severity"] in ("page", "ticket", "none"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
        assert (ROOT / annotations["runbook_url"]).is_file(), f"missing runbook for {rule['alert']}"


def test_the_issue_s_alerts_all_exist() -> None:
    names = {rule["alert"] for rule in monitoring.alert_rules(ROOT)}
    assert {"TaskAvailabilityBurnRatePage", "TaskAvailabilityBurnRateTicket", "TaskAcceptanceLatencyBurnRatePage",
            "TaskAcceptanceLatencyBurnRateTicket", "QueueBacklogGrowing", "StackyardDeadLetters",
            "StackyardTargetDown", "KubePodCrashLooping", "KubeDeploymentRolloutStuck", "KubeHpaMaxedOut",
            "Watchdog"} <= names


def _rule_tests() -> list[dict[str, object]]:
    cases = []
    for path in sorted((ROOT / monitoring.RULE_TESTS_DIR).glob("*.test.yml")):
        for group in yaml.safe_load(path.read_text())["tests"]:
            cases += group.get("alert_rule_test", [])
    return cases


def test_promtool_tests_make_every_alert_fire_and_every_alert_but_watchdog_stay_silent() -> None:
    cases = _rule_tests()
    fired = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    names = {rule["alert"] for rule in monitoring.alert_rules(ROOT)}
    assert names - fired == set(), f"no test makes these fire: {names - fired}"
    assert names - silent == {"Watchdog"}, f"no test shows these silent: {names - silent - {'Watchdog'}}"


def test_rule_tests_load_every_rule_file_they_need() -> None:
    for path in sorted((ROOT / monitoring.RULE_TESTS_DIR).glob("*.test.yml")):
        for rule_file in yaml.safe_load(path.read_text())["rule_files"]:
            assert (path.parent / rule_file).is_file(), f"{path.name}: {rule_file}"


def test_dashboards_cover_overview_queue_and_autoscaling_against_the_provisioned_datasource() -> None:
    boards = monitoring.dashboards(ROOT)
    assert set(boards) == {"stackyard-overview.json", "stackyard-queue.json", "stackyard-autoscaling.json"}
    provisioned = yaml.safe_load((ROOT / monitoring.MONITORING_DIR / "grafana/provisioning/datasources/prometheus.yml")
                                 .read_text())["datasources"][0]["uid"]
    for name, board in boards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == provisioned and panel.get("targets"), (name, panel["title"])
    autoscaling = [p for p in monitoring.dashboard_panels(ROOT) if p.dashboard == "stackyard-autoscaling.json"]
    assert any("kube_horizontalpodautoscaler_spec_target_metric" in e for p in autoscaling for e in p.exprs)


def test_panels_marked_cluster_only_are_exactly_those_reading_cluster_metrics() -> None:
    for panel in monitoring.dashboard_panels(ROOT):
        reads_cluster = any(monitoring.metric_names(e) & monitoring.CLUSTER_METRICS for e in panel.exprs)
        assert panel.cluster_only == reads_cluster, f"{panel.dashboard}: {panel.title}"


def test_dashboard_rules_file_turns_each_panel_query_into_a_recording_rule() -> None:
    data = yaml.safe_load(monitoring.dashboard_rules_text(ROOT))
    rules = data["groups"][0]["rules"]
    assert len(rules) == len(monitoring.panel_expressions(ROOT))
    assert len({r["record"] for r in rules}) == len(rules)


def test_alertmanager_routes_by_severity_to_the_local_receiver_and_inhibits_symptoms() -> None:
    am = yaml.safe_load((ROOT / monitoring.ALERTMANAGER_CONFIG).read_text())
    routes = {tuple(r["matchers"]): r["receiver"] for r in am["route"]["routes"]}
    assert routes[('severity="page"',)] == "page" and routes[('severity="ticket"',)] == "ticket"
    assert routes[('alertname="Watchdog"',)] == "watchdog"
    for receiver in am["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["url"].startswith("http://alert-receiver:9095/hooks/")
    sources = {rule["source_matchers"][0] for rule in am["inhibit_rules"]}
    assert 'alertname="StackyardServiceDown"' in sources and 'alertname="KubePodCrashLooping"' in sources
    for rule in am["inhibit_rules"]:
        assert rule["equal"], "an inhibition without `equal` would mute unrelated alerts"


def test_rendered_ci_variant_compresses_time(tmp_path: Path) -> None:
    cfg = config.load("ci", ROOT / "envs", environ={})
    target = monitoring.render_compose(ROOT, cfg, tmp_path / "out")
    prom = yaml.safe_load((target / "prometheus.yml").read_text())
    assert prom["global"]["scrape_interval"] == "2s" and prom["global"]["external_labels"]["stage"] == "ci"
    am = yaml.safe_load((target / "alertmanager.yml").read_text())
    assert am["route"]["group_wait"] == "1s" and am["route"]["group_interval"] == "5s"
    slo = (target / "rules" / "slo.rules.yml").read_text()
    assert "RENDERED for a time-compressed stage" in slo and "[10s]" in slo
    assert sorted(p.name for p in (target / "rules").iterdir()) == sorted(p.name for p in monitoring.rule_files(ROOT))
    assert oct((target / "prometheus.yml").stat().st_mode & 0o777) == "0o644"


def test_production_stage_renders_the_committed_rules_unchanged(tmp_path: Path) -> None:
    cfg = config.load("production", ROOT / "envs", environ={})
    target = monitoring.render_compose(ROOT, cfg, tmp_path / "out")
    assert (target / "rules" / "slo.rules.yml").read_text() == (ROOT / monitoring.SLO_RULES_FILE).read_text()


def test_compose_env_renders_every_variable_the_monitoring_compose_file_requires() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    plan = images.make_plan(cfg, ROOT, "bootstrap", tag="abc")
    env = compose_env.project_env(cfg, plan)
    text = (ROOT / monitoring.MONITORING_DIR / "compose.yml").read_text()
    required = set(re.findall(r"\$\{(STACKYARD_[A-Z_]+):\?", text))
    assert required and required <= set(env), f"not rendered: {required - set(env)}"
    assert env["STACKYARD_PROMETHEUS_IMAGE"] == plan.infra["prometheus"]


def test_monitoring_containers_run_as_non_root_and_publish_on_localhost_only() -> None:
    services = yaml.safe_load((ROOT / monitoring.MONITORING_DIR / "compose.yml").read_text())["services"]
    assert set(services) == {*monitoring.COMPOSE_SERVICES, "grafana"}
    for name, service in services.items():
        assert service["user"].split(":")[0] != "0", name
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert all(port.startswith("127.0.0.1:") for port in service["ports"]), name
        assert "healthcheck" in service, name
    assert services["grafana"]["profiles"] == [monitoring.GRAFANA_PROFILE]


def test_grafana_is_optional() -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    assert monitoring.profiles(cfg, image_present=True)[0] == ["monitoring", "grafana"]
    profiles, note = monitoring.profiles(cfg, image_present=False)
    assert profiles == ["monitoring"] and "skipped" in note
    on = config.load("dev", ROOT / "envs", environ={"STACKYARD__MONITORING__GRAFANA": "always"})
    with pytest.raises(StackyardError, match="not present"):
        monitoring.profiles(on, image_present=False)


def test_kubernetes_config_keeps_discovery_and_swaps_it_only_for_debian_s_promtool() -> None:
    data = yaml.safe_load((ROOT / monitoring.PROMETHEUS_KUBERNETES).read_text())
    roles = [b["role"] for job in data["scrape_configs"] for b in job.get("kubernetes_sd_configs", [])]
    assert roles == ["endpoints", "endpoints", "node"]
    swapped = monitoring.without_kubernetes_sd(json.loads(json.dumps(data)))
    assert all("kubernetes_sd_configs" not in job for job in swapped["scrape_configs"])
    with pytest.raises(StackyardError, match="unknown kubernetes_sd_configs role"):
        monitoring.without_kubernetes_sd(
            {"scrape_configs": [{"job_name": "x", "kubernetes_sd_configs": [{"role": "x"}]}]})


def test_check_commands_run_the_tools_in_the_images_without_network(tmp_path: Path) -> None:
    commands = dict(monitoring.check_commands(ROOT, "p:1", "a:1", tmp_path, {"ci": tmp_path / "ci"}))
    test_rules = commands["promtool test rules"]
    assert test_rules[:4] == ["docker", "run", "--rm", "--network"] and "p:1" in test_rules
    assert test_rules[test_rules.index("p:1") + 1:test_rules.index("p:1") + 3] == ["test", "rules"]
    assert any(a.endswith("/alerts.test.yml") for a in test_rules)
    assert commands["amtool check-config"][-2:] == ["check-config", "/etc/alertmanager/alertmanager.yml"]
    assert "promtool check config (as rendered for stage ci)" in commands


def test_static_checks_pass_on_the_tree() -> None:
    results = monitoring.static_checks(ROOT)
    assert [(r.name, r.detail) for r in results if not r.ok] == []
