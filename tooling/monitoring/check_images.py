"""The images the checks run promtool and amtool in: the project's own Prometheus and
Alertmanager images, the same versions that run the stack."""

from pathlib import Path

from tooling import images
from tooling.config import StackConfig
from tooling.monitoring.compose_render import INFRA


def ensure_check_images(config: StackConfig, root: Path) -> tuple[str, str]:
    """The Prometheus and Alertmanager images of this tree (built from Debian's packages, or
    pulled upstream), which carry the promtool and amtool the checks run."""
    plan = images.make_plan(config, root, images.resolve_source(config, root), tag="-")
    images.ensure_base(plan, config, root)
    images.ensure_infra(plan, root, INFRA)
    return plan.infra["prometheus"], plan.infra["alertmanager"]
