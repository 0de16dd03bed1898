"""Stack config: envs/base.yaml + envs/<stage>.yaml + STACKYARD__* variables + flags, validated.

schema.py holds the models (no defaults: envs/base.yaml is the one place a default is written),
load.py reads the layers and remembers where every value came from (Origin), mapping.py says
which service setting each key becomes, and explain.py turns that into `inv config.show/diff`.
"""

from tooling.config.load import (
    DEV_POSTGRES_PASSWORD,
    ENV_PREFIX,
    ConfigError,
    Origin,
    env_variable,
    envs_dir,
    load,
    load_secrets,
    load_with_origins,
)
from tooling.config.schema import (
    DEV_STAGES,
    STAGES,
    CapacityPlanning,
    ComposeConfig,
    DeliveryConfig,
    GatewayConfig,
    ImagesConfig,
    LoadProfile,
    LoadProfiles,
    LoadSlo,
    LoadtestConfig,
    ModelConfig,
    MonitoringConfig,
    PostgresConfig,
    ScalingRun,
    ScalingSlo,
    Secrets,
    StackConfig,
    UpstreamImages,
    WorkerConfig,
)

__all__ = [
    "DEV_POSTGRES_PASSWORD", "DEV_STAGES", "ENV_PREFIX", "STAGES",
    "CapacityPlanning", "ComposeConfig", "ConfigError", "DeliveryConfig", "GatewayConfig",
    "ImagesConfig", "LoadProfile", "LoadProfiles", "LoadSlo", "LoadtestConfig", "ModelConfig",
    "MonitoringConfig", "Origin", "PostgresConfig", "ScalingRun", "ScalingSlo", "Secrets",
    "StackConfig", "UpstreamImages", "WorkerConfig",
    "env_variable", "envs_dir", "load", "load_secrets", "load_with_origins",
]
