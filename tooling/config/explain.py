"""`inv config.show` and `inv config.diff`: every key's value, where it came from, who reads it."""

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tooling.config import mapping
from tooling.config.load import Origin, origin_of
from tooling.config.schema import StackConfig, Strict

Origins = dict[tuple[str, ...], Origin]


@dataclass(frozen=True)
class Row:
    key: str
    value: Any
    origin: str  # "envs/base.yaml:22", "environment variable STACKYARD__GATEWAY__PORT", ...
    read_by: list[str]  # components (as which variable) or "toolkit: <what reads it>"


@dataclass(frozen=True)
class DiffRow:
    key: str
    a: Any
    b: Any
    origin_a: str
    origin_b: str


def leaves(model: Strict, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found: list[tuple[tuple[str, ...], Any]] = []
    for name, value in model:
        path = (*prefix, name)
        found += leaves(value, path) if isinstance(value, Strict) else [(path, value)]
    return found


def _shown(origin: Origin, root: Path) -> str:
    source = Path(origin.source)
    if source.is_absolute() and source.is_relative_to(root):
        return str(Origin(str(source.relative_to(root)), origin.line))
    return str(origin)


def read_by(key: str) -> list[str]:
    setting = next((s for s in mapping.SETTINGS if s.key == key), None)
    if setting is not None:
        return [f"{component} ({setting.variable})" for component in mapping.readers(setting.field)]
    owner = next(p for p in mapping.TOOLKIT_KEYS if key == p or key.startswith(p + "."))
    return [f"toolkit: {mapping.TOOLKIT_KEYS[owner]}"]


def show(config: StackConfig, origins: Origins, root: Path, prefix: str = "") -> list[Row]:
    rows = []
    for path, value in leaves(config):
        key = ".".join(path)
        if prefix and not (key == prefix or key.startswith(prefix + ".")):
            continue
        rows.append(Row(key, value, _shown(origin_of(origins, path), root), read_by(key)))
    return rows


def diff(a: tuple[StackConfig, Origins], b: tuple[StackConfig, Origins], root: Path) -> list[DiffRow]:
    """Keys whose values differ between two stages (the stage name itself left out)."""
    (config_a, origins_a), (config_b, origins_b) = a, b
    values_b = dict(leaves(config_b))
    return [DiffRow(".".join(path), value, values_b[path], _shown(origin_of(origins_a, path), root),
                    _shown(origin_of(origins_b, path), root))
            for path, value in leaves(config_a) if path != ("stage",) and values_b[path] != value]


def as_dicts(rows: list[Row] | list[DiffRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]
