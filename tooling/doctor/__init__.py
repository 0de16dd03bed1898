"""`inv doctor`: every precondition of the stack, each ✓ (ok), ✗ (blocks it) or ! (works, but…),
each with its fix. `inv up` runs the fast subset first (tooling/doctor/run.py `up_preflight`).

result.py     one check's outcome (Check) and the bounded probe that turns errors into one
checks_docker.py   the engine: reachable, compose v2, builder, image store, cgroups
checks_host.py     this machine: disk, memory and cores, host ports, proxy and CA settings
checks_images.py   where base images will come from (upstream registry or bootstrap)
checks_kubernetes.py  kind and kubectl at their pins, the kind node image
run.py        which checks run, in what order; the `inv up` subset
report.py     text (✓/✗/!) and JSON

Kept light on import: nothing here is imported until a task asks for it.
"""
