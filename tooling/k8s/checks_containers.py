"""Semantic checks, containers: images, environment against the Secret and the services' settings,
probes against real ports and served paths, and drain timing against the grace period."""

from collections.abc import Mapping
from typing import Any

from tooling.k8s.checks_base import CheckerBase, container_ports, fmt_ports, pod_spec
from tooling.k8s.configmaps import SECRET_KEYS, SECRET_NAME
from tooling.k8s.images import split_image
from tooling.k8s.settings import APP_COMPONENTS, ENV_PREFIX, build_settings, served_paths, settings_class

POSTGRES_ENV = frozenset({"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA"})
# terminationGracePeriodSeconds must cover preStop + drain + this margin (exit, flush logs).
DRAIN_MARGIN_SECONDS = 5
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
EXPECTED_PROBE_PATHS = {"livenessProbe": "/healthz", "startupProbe": "/healthz", "readinessProbe": "/readyz"}

# Placeholder secret values: the settings classes only see their shape.
_SECRET_SAMPLES = {"postgres-password": "validate", "database-url": "postgresql://u:p@postgres:5432/d",
                   "api-keys": '["validate-key"]'}


class ContainerChecks(CheckerBase):
    """Containers: images, probes against real ports and paths, configuration against settings."""

    def containers(self, workload: dict[str, Any]) -> None:
        pod = pod_spec(workload)
        namespace = (workload.get("metadata") or {}).get("namespace")
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            name = str(container.get("name"))
            self.image(workload, container)
            env = self.environment(workload, container, namespace)
            listen_port = None
            if name in APP_COMPONENTS:
                listen_port = self.app_config(workload, container, env)
                self.drain(workload, container, env)
            self.probes(workload, container, name in APP_COMPONENTS, listen_port)
            if name == "postgres":
                unknown = sorted(set(env) - POSTGRES_ENV)
                if unknown:
                    self.add(workload, f"container postgres gets {', '.join(unknown)}, which the postgres image "
                                       f"does not read (it reads {', '.join(sorted(POSTGRES_ENV))})")
                for required in ("POSTGRES_USER", "POSTGRES_PASSWORD"):
                    if required not in env:
                        self.add(workload, f"container postgres lacks {required}")

    def image(self, workload: dict[str, Any], container: Mapping[str, Any]) -> None:
        image = str(container.get("image", ""))
        name, tag, digest = split_image(image)
        if tag == "latest" or (not tag and not digest):
            self.add(workload, f"container {container.get('name')} uses {image or '(no image)'}: "
                               "an implicit or explicit :latest (kind nodes would pull it, bypassing loaded images) "
                               "— render through `inv k8s.render`, which sets the built tags")
        elif image not in self.rendering.allowed_images:
            self.add(workload, f"container {container.get('name')} uses {image}, which the project neither builds "
                               f"nor pins (allowed here: {', '.join(sorted(self.rendering.allowed_images))})")

    def environment(self, workload: dict[str, Any], container: Mapping[str, Any],
                    namespace: str | None) -> dict[str, str]:
        """The container's environment as rendered, secrets replaced by sample values."""
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef") or {}
            if ref:
                config_map = self.find("ConfigMap", str(ref.get("name")), namespace)
                if config_map is None:
                    if not ref.get("optional"):
                        self.add(workload, f"container {container.get('name')} reads ConfigMap {ref.get('name')}, "
                                           "which this render does not contain")
                    continue
                env.update({str(k): str(v) for k, v in (config_map.get("data") or {}).items()})
            if source.get("secretRef"):
                self.add(workload, f"container {container.get('name')} imports a whole Secret: name its keys in env")
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            key_ref = value_from.get("secretKeyRef")
            if key_ref:
                if key_ref.get("name") != SECRET_NAME or key_ref.get("key") not in SECRET_KEYS:
                    self.add(workload, f"{variable['name']} reads secret {key_ref.get('name')}/{key_ref.get('key')}; "
                                       f"the stack's secret is {SECRET_NAME} with keys {', '.join(SECRET_KEYS)}")
                    continue
                env[variable["name"]] = _SECRET_SAMPLES[key_ref["key"]]
            elif "value" in variable:
                env[variable["name"]] = str(variable["value"])
            else:
                env[variable["name"]] = "from-field"
        return env

    def app_config(self, workload: dict[str, Any], container: Mapping[str, Any], env: Mapping[str, str]) -> int:
        """Every key is a settings field and the settings object builds; return its listen port."""
        from pydantic import ValidationError

        component = str(container.get("name"))
        cls = settings_class(component)
        fields = set(cls.model_fields)
        for key in sorted(env):
            field_name = key[len(ENV_PREFIX):].lower() if key.startswith(ENV_PREFIX) else None
            if field_name not in fields:
                self.add(workload, f"container {component} gets {key}, which is no setting of {cls.__name__} "
                                   f"(services/stackyard/common/settings.py): a typo, or a key the service ignores")
        try:
            settings = build_settings(component, env)
        except ValidationError as error:
            for item in error.errors():
                variable = ENV_PREFIX + "_".join(str(p) for p in item.get("loc", ())).upper()
                self.add(workload, f"container {component}: {variable}: {item.get('msg')} "
                                   f"(as {cls.__name__} reads the rendered environment)")
            return 8000
        return int(settings.port)

    def drain(self, workload: dict[str, Any], container: Mapping[str, Any], env: Mapping[str, str]) -> None:
        pod = pod_spec(workload)
        grace = int(pod.get("terminationGracePeriodSeconds", 30))
        pre_stop = (((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
        try:
            drain = float(env.get("STACKYARD_DRAIN_SECONDS", settings_class(str(container["name"]))
                                  .model_fields["drain_seconds"].default))
        except ValueError:
            return  # reported by app_config
        needed = int(pre_stop) + drain + DRAIN_MARGIN_SECONDS
        if grace < needed:
            self.add(workload, f"terminationGracePeriodSeconds {grace} is shorter than preStop {pre_stop}s + "
                               f"STACKYARD_DRAIN_SECONDS {drain:g}s + {DRAIN_MARGIN_SECONDS}s: in-flight work would "
                               f"be killed; raise it to {int(needed + 0.999)}")

    def probes(self, workload: dict[str, Any], container: Mapping[str, Any], app: bool,
               listen_port: int | None) -> None:
        ports = container_ports(container)
        for probe_name in PROBES:
            probe = container.get(probe_name)
            if not probe:
                if app and probe_name != "startupProbe":
                    self.add(workload, f"container {container.get('name')} has no {probe_name}")
                continue
            handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc")
            if not handler:
                continue  # exec probes run inside the container: nothing to cross-check
            port = str(handler.get("port"))
            if port not in ports:
                self.add(workload, f"container {container.get('name')}: {probe_name} port {port} is no port of "
                                   f"the container (it exposes {fmt_ports(container)})")
                continue
            if listen_port is not None and ports[port] != listen_port:
                self.add(workload, f"container {container.get('name')}: {probe_name} probes port {ports[port]} "
                                   f"but the service listens on {listen_port} (STACKYARD_PORT)")
            path = (probe.get("httpGet") or {}).get("path")
            if app and path is not None:
                if path not in served_paths():
                    self.add(workload, f"container {container.get('name')}: {probe_name} path {path} is not served "
                                       f"(the services serve {', '.join(sorted(p for p in served_paths() if p))})")
                elif path != EXPECTED_PROBE_PATHS[probe_name]:
                    self.add(workload, f"container {container.get('name')}: {probe_name} uses {path}; it should use "
                                       f"{EXPECTED_PROBE_PATHS[probe_name]} (liveness never checks dependencies; "
                                       "readiness does)")
