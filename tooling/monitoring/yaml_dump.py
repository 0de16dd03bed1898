"""YAML as the rendered and generated files are written: key order kept, multi-line strings as `|` blocks."""

from typing import Any

import yaml


class _LiteralDumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any, header: str = "") -> str:
    body = yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, width=120, allow_unicode=True)
    return header + body
