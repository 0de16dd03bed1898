"""The stack on a local kind cluster: up (also `inv cluster`), status, down."""

import json as jsonlib
import sys
import time

from invoke.context import Context
from invoke.tasks import task

from tooling.tasks.common import ROOT, friendly, load_config, load_secrets, require_extra


@task(default=True, help={"rebuild": "rebuild the service images even if present",
            "no_wait_metrics": "do not wait for `kubectl top` and the HPAs' metrics",
            "json": "print a JSON summary on stdout (progress stays on stderr)"})
@friendly
def up(c: Context, rebuild: bool = False, no_wait_metrics: bool = False, json: bool = False) -> None:
    """Create or reuse the kind cluster and run the stack on it with metrics-server, HPAs and Prometheus.

    Example: `inv cluster`, `inv cluster.up --no-wait-metrics --json`."""
    require_extra("k8s", "cluster")
    from tooling import cluster as cluster_module
    from tooling import images

    started = time.monotonic()
    cfg = load_config("kind")
    timings = cluster_module.Timings()
    with timings.phase("preflight (docker, node image, kind, kubectl)"):
        tools = cluster_module.preflight(ROOT)
    secrets = load_secrets(cfg)  # before anything slow: a missing secret fails here
    with timings.phase("images (built or found locally)"):
        plan = images.ensure_images(cfg, ROOT, rebuild=rebuild)
    result = cluster_module.up(ROOT, cfg, secrets, plan, tools=tools, timings=timings,
                               wait_for_metrics=not no_wait_metrics)
    if json:
        print(jsonlib.dumps({**result.as_dict(), "tag": plan.tag, "seconds": round(time.monotonic() - started, 1),
                             "phases": [{"phase": p, "seconds": round(s, 1)} for p, s in timings.phases]}, indent=2))
        return
    print(cluster_module.table(result), file=sys.stderr)
    print(timings.table(), file=sys.stderr)
    kubeconfig = result.kubeconfig
    print(f"""
✓ stackyard runs on kind cluster {result.name!r} (images :{plan.tag}) in {time.monotonic() - started:.1f}s
  gateway     {result.gateway_url}      (API docs {result.gateway_url}/docs)
  prometheus  {result.prometheus_url}
  kubectl     export KUBECONFIG={kubeconfig}

  try it:
    curl -s -X POST {result.gateway_url}/v1/tasks -H 'content-type: application/json' \\
         -H 'Authorization: Bearer <a key from STACKYARD_API_KEYS>' -d '{{"agent": "chat", "input": "hello"}}'
    kubectl --kubeconfig {kubeconfig} get hpa -n {cluster_module.NAMESPACE} --watch

  `inv cluster.status` shows workloads and autoscalers, `inv cluster.down` deletes the cluster.""")


@task(help={"json": "print JSON on stdout"})
@friendly
def status(c: Context, json: bool = False) -> None:
    """Show the kind cluster's workloads and autoscalers (replicas, bounds, current metrics).

    Example: `inv cluster.status`, `inv cluster.status --json`."""
    require_extra("k8s", "cluster.status")
    from tooling import cluster as cluster_module

    result = cluster_module.status(ROOT, cluster_module.tools_for_existing(ROOT))
    print(jsonlib.dumps(result.as_dict(), indent=2) if json else cluster_module.table(result))


@task
@friendly
def down(c: Context) -> None:
    """Delete the kind cluster (and everything on it).

    Example: `inv cluster.down`."""
    require_extra("k8s", "cluster.down")
    from tooling import cluster as cluster_module

    deleted = cluster_module.down(ROOT, cluster_module.tools_for_existing(ROOT))
    print(f"deleted kind cluster {cluster_module.CLUSTER_NAME!r}" if deleted
          else f"no kind cluster {cluster_module.CLUSTER_NAME!r}: nothing to delete", file=sys.stderr)
