"""stackyard's tasks. Assembly only: each task lives in tooling/tasks/, its logic in tooling/.

The verbs used all day are at the top level (`inv up`, `inv down`, `inv status`, `inv logs`,
`inv test`, `inv lint`, `inv doctor`); the rest live in sub-collections (`inv images.build`, ...).
"""

import signal

from invoke.collection import Collection

from tooling.tasks import cluster, config, dev, images, k8s, loadtest, monitoring, stack

# `inv … | head` ends quietly, as Unix tools do, instead of a BrokenPipeError traceback: Python
# ignores SIGPIPE by default; the default action ends the process when the reader goes away.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)

ns = Collection()
for verb in (stack.up, stack.down, stack.status, stack.logs, dev.test, dev.lint, dev.doctor):
    ns.add_task(verb)
ns.add_collection(Collection.from_module(images, name="images"))
# `inv cluster` is cluster.up (its default task).
ns.add_collection(Collection.from_module(cluster, name="cluster"))
ns.add_collection(Collection.from_module(config, name="config"))
ns.add_collection(Collection.from_module(k8s, name="k8s"))
ns.add_collection(Collection.from_module(monitoring, name="monitoring"))
# `inv loadtest` is loadtest.run (its default task); `inv capacity` plans from loadtest.scaling's figures.
ns.add_collection(Collection("loadtest", loadtest.run, loadtest.scaling))
ns.add_task(loadtest.capacity)
