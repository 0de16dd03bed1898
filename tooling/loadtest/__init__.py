"""Load testing: `inv loadtest`, `inv loadtest.scaling`, `inv capacity` (tasks in tooling/tasks/loadtest.py).

  runner      one run: locust in its own process, the replica sampler alongside, verdict.json, report.html
  profiles    load shapes (smoke, step, spike, soak) as plain stages, shared with the locustfile
  locustfile  the scenarios locust runs (`python -m locust -f tooling/loadtest/locustfile.py`)
  analysis    raw samples (samples.jsonl) → exact percentiles and time series
  sampler     replicas and CPU per component over time (compose or the kind cluster)
  verdict     each SLO measured against its threshold; the exit codes of `inv loadtest`
  report      self-contained HTML pages with inline SVG charts
  scaling     completed tasks/s at 1, 2, 4 … replicas on compose (scaling.json)
  capacity    scaling.json → requests, HPA targets and replica bounds per stage

This package imports nothing on purpose: the locustfile (locust's process, patched by gevent)
imports `tooling.loadtest.profiles`, and the toolkit must never import locust. Import the
submodules themselves, e.g. `from tooling.loadtest import runner`.
"""
