"""Config: layering, validation, and errors that name the file and the key."""

import shutil
from pathlib import Path

import pytest

from tooling import config

ENVS = Path(__file__).resolve().parents[2] / "envs"


@pytest.fixture
def envs(tmp_path: Path) -> Path:
    target = tmp_path / "envs"
    shutil.copytree(ENVS, target, ignore=shutil.ignore_patterns("*.env"))
    return target


def test_every_stage_loads_from_the_committed_files() -> None:
    for stage in config.STAGES:
        loaded = config.load(stage, ENVS, environ={})
        assert loaded.stage == stage
    assert config.load("dev", ENVS, environ={}).gateway.require_api_key is False
    assert config.load("production", ENVS, environ={}).gateway.require_api_key is True


def test_layers_apply_in_documented_order(envs: Path) -> None:
    (envs / "dev.yaml").write_text("gateway:\n  port: 9000\n  require_api_key: false\n")
    assert config.load("dev", envs, environ={}).gateway.port == 9000
    from_env = config.load("dev", envs, environ={"STACKYARD__GATEWAY__PORT": "9100"})
    assert from_env.gateway.port == 9100
    from_flag = config.load("dev", envs, environ={"STACKYARD__GATEWAY__PORT": "9100"},
                            overrides={"gateway.port": 9200})
    assert from_flag.gateway.port == 9200
    # A stage file changes only what it names: siblings keep the base values.
    assert from_flag.gateway.max_body_bytes == 1_048_576


def test_unknown_key_names_file_and_key(envs: Path) -> None:
    (envs / "dev.yaml").write_text("gateway:\n  require_api_key: false\n  prot: 9000\n")
    with pytest.raises(config.ConfigError) as caught:
        config.load("dev", envs, environ={})
    message = str(caught.value)
    assert str(envs / "dev.yaml") in message
    assert "gateway.prot: unknown key" in message


def test_wrong_type_names_file_and_key(envs: Path) -> None:
    (envs / "dev.yaml").write_text("gateway:\n  port: eighty\n")
    with pytest.raises(config.ConfigError, match=r"dev\.yaml: gateway\.port: "):
        config.load("dev", envs, environ={})


def test_out_of_range_value_from_environment_names_the_variable(envs: Path) -> None:
    with pytest.raises(config.ConfigError, match="STACKYARD__GATEWAY__PORT: gateway.port"):
        config.load("dev", envs, environ={"STACKYARD__GATEWAY__PORT": "70000"})


def test_invalid_yaml_names_file_and_line(envs: Path) -> None:
    (envs / "dev.yaml").write_text("gateway:\n  port: [8080\n")
    with pytest.raises(config.ConfigError, match=r"dev\.yaml: invalid YAML at line \d+"):
        config.load("dev", envs, environ={})


def test_non_mapping_file_is_rejected(envs: Path) -> None:
    (envs / "dev.yaml").write_text("- just\n- a list\n")
    with pytest.raises(config.ConfigError, match="top level must be a mapping"):
        config.load("dev", envs, environ={})


def test_unknown_stage() -> None:
    with pytest.raises(config.ConfigError, match="unknown stage 'prod'"):
        config.load("prod", ENVS, environ={})


def test_dev_needs_no_secret() -> None:
    cfg = config.load("dev", ENVS, environ={})
    secrets = config.load_secrets(cfg, ENVS, environ={})
    assert secrets.postgres_password == config.DEV_POSTGRES_PASSWORD
    assert secrets.api_keys == ()


def test_staging_refuses_to_run_without_secrets(envs: Path) -> None:
    cfg = config.load("staging", envs, environ={})
    with pytest.raises(config.ConfigError, match="STACKYARD_POSTGRES_PASSWORD is not set"):
        config.load_secrets(cfg, envs, environ={})
    with pytest.raises(config.ConfigError, match="requires API keys"):
        config.load_secrets(cfg, envs, environ={"STACKYARD_POSTGRES_PASSWORD": "s3cret"})


def test_secrets_come_from_the_untracked_env_file(envs: Path) -> None:
    (envs / "staging.env").write_text("# local\nSTACKYARD_POSTGRES_PASSWORD='from-file'\nSTACKYARD_API_KEYS=a,b\n")
    cfg = config.load("staging", envs, environ={})
    secrets = config.load_secrets(cfg, envs, environ={})
    assert secrets.postgres_password == "from-file"
    assert secrets.api_keys == ("a", "b")
