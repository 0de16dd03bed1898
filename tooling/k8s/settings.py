"""What the services themselves declare: their settings classes and the paths their app serves.

The semantic checks hold the rendered manifests against these, imported from the services
package (services/stackyard/common/), so a renamed setting or route fails the check.
"""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from tooling.config import mapping
from tooling.k8s.problems import K8sError

APP_COMPONENTS = mapping.COMPONENTS
DATASTORES = ("redis", "postgres")
SETTINGS_CLASSES = mapping.SETTINGS_CLASSES
ENV_PREFIX = mapping.SERVICE_ENV_PREFIX
settings_class = mapping.settings_class


@lru_cache(maxsize=1)
def served_paths() -> frozenset[str]:
    """The paths every stackyard service serves outside its API (from the services' own app)."""
    try:
        from stackyard.common.http import create_app
    except ImportError as error:
        raise K8sError(f"the services package is not importable ({error})",
                       "run `./dev` to install it into .venv (pip install -e ./services)") from error
    app = create_app("k8s-validate")
    return frozenset(getattr(route, "path", "") for route in app.routes)


def build_settings(component: str, env: Mapping[str, str]) -> Any:
    """The component's settings object built from exactly `env` (not this process's environment)."""
    from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

    given = dict(env)

    class GivenEnv(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return {name.lower(): value for name, value in given.items()}

    base = settings_class(component)

    class FromRenderedEnv(base):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings], *args: Any,
                                       **kwargs: Any) -> tuple[PydanticBaseSettingsSource, ...]:
            return (GivenEnv(settings_cls),)

    return FromRenderedEnv()
