"""The lean base image: what is stripped from the debootstrap root, what must stay, and that the
base's tag follows the strip so a changed strip never reuses an old base."""

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tooling import config, images
from tooling.cli import docker
from tooling.cli import run as seam

ROOT = Path(__file__).resolve().parents[2]

STRIPPED = [
    "usr/share/doc/bash/changelog.Debian.gz", "usr/share/doc/bash/README", "usr/share/man/man1/bash.1.gz",
    "usr/share/info/coreutils.info.gz", "usr/share/lintian/overrides/bash", "usr/share/locale/de/LC_MESSAGES/apt.mo",
    "var/cache/apt/archives/bash_5.2_amd64.deb", "var/cache/apt/pkgcache.bin",
    "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
    "var/cache/debconf/config.dat-old", "var/log/dpkg.log", "var/log/apt/history.log",
    "usr/lib/python3.11/test/regrtest.py", "usr/lib/python3.11/idlelib/idle.py",
    "usr/lib/python3.11/lib2to3/tests/test_all_fixers.py",
]
# What a runtime (or a later build step) reads: the service Dockerfile runs `python3 -m venv`
# (ensurepip + python-wheels), LANG=C.UTF-8, TLS, time zones, dpkg/apt for the infra Dockerfiles.
NEEDED = [
    "usr/share/doc/bash/copyright", "usr/lib/locale/C.utf8/LC_CTYPE", "usr/lib/python3.11/os.py",
    "usr/lib/python3.11/__pycache__/os.cpython-311.pyc", "usr/lib/python3.11/ensurepip/__init__.py",
    "usr/lib/python3.11/venv/__init__.py", "usr/lib/python3.11/lib2to3/pytree.py",
    "usr/share/python-wheels/pip-23.0.1-py3-none-any.whl", "usr/share/zoneinfo/Europe/Berlin",
    "etc/ssl/certs/ca-certificates.crt", "usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt",
    "var/lib/dpkg/status", "var/lib/dpkg/info/bash.list", "etc/apt/sources.list", "usr/bin/python3.11",
]


def make_root(top: Path, paths: Sequence[str]) -> None:
    for relative in paths:
        (top / relative).parent.mkdir(parents=True, exist_ok=True)
        (top / relative).write_bytes(b"x" * 100)


def stripped_by(relative: str) -> list[str]:
    """The ROOTFS_STRIP globs that remove `relative` itself or one of its parent directories."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    return [pattern for pattern in images.ROOTFS_STRIP
            if any(fnmatch.fnmatchcase(p, pattern) and p.count("/") == pattern.count("/") for p in prefixes)]


def test_the_strip_removes_docs_caches_and_tests_and_keeps_what_runs(tmp_path: Path) -> None:
    make_root(tmp_path, STRIPPED + NEEDED)
    freed = images.slim_rootfs(tmp_path)
    assert [p for p in STRIPPED if (tmp_path / p).exists()] == []
    assert [p for p in NEEDED if not (tmp_path / p).exists()] == []
    assert freed == 100 * len(STRIPPED)
    # the directories apt and dpkg write into stay, emptied
    assert (tmp_path / "var/lib/apt/lists").is_dir() and (tmp_path / "var/log/apt").is_dir()


def test_nothing_a_runtime_reads_matches_a_strip_glob() -> None:
    assert {p: stripped_by(p) for p in NEEDED if stripped_by(p) and p not in ("usr/share/doc/bash/copyright",)} == {}
    assert all(stripped_by(p) for p in STRIPPED)  # the matcher above is not vacuous


def test_globs_stay_inside_the_root() -> None:
    for pattern in (*images.ROOTFS_STRIP, *images.ROOTFS_KEEP, *images.ROOTFS_CONFIG):
        assert not pattern.startswith("/") and ".." not in pattern.split("/") and "**" not in pattern


def test_symbolic_links_are_removed_never_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "host-docs"
    make_root(outside, ["python3/changelog.gz"])
    make_root(root, ["usr/share/doc/libpython3.11/copyright"])
    (root / "usr/share/doc/python3").symlink_to(outside / "python3")  # absolute: resolves on the host
    (root / "usr/share/doc/python3.11").symlink_to("libpython3.11")
    images.slim_rootfs(root)
    assert (outside / "python3/changelog.gz").exists()
    assert not (root / "usr/share/doc/python3").is_symlink() and not (root / "usr/share/doc/python3.11").is_symlink()
    assert (root / "usr/share/doc/libpython3.11/copyright").exists()


def test_later_package_installs_skip_the_same_paths() -> None:
    excludes = images.ROOTFS_CONFIG["etc/dpkg/dpkg.cfg.d/stackyard-slim"].splitlines()
    for pattern in images.ROOTFS_STRIP:
        if pattern.startswith("usr/share/"):
            assert f"path-exclude /{pattern}" in excludes
    for kept in images.ROOTFS_KEEP:
        assert f"path-include /{kept}" in excludes
    apt = images.ROOTFS_CONFIG["etc/apt/apt.conf.d/stackyard-slim"]
    assert "/var/cache/apt/archives/*.deb" in apt and 'Dir::Cache::pkgcache "";' in apt


def test_the_base_tag_follows_the_strip(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load("dev", ROOT / "envs", environ={})
    before = images.base_ref(cfg)
    monkeypatch.setattr(images, "ROOTFS_STRIP", images.ROOTFS_STRIP[:-1])
    after_strip = images.base_ref(cfg)
    monkeypatch.setattr(images, "ROOTFS_CONFIG", {**images.ROOTFS_CONFIG, "etc/x": "y"})
    assert len({before, after_strip, images.base_ref(cfg)}) == 3


def test_bootstrap_strips_the_root_before_packing_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    packed: dict[str, bool] = {}
    imported: list[str] = []

    def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None,
            **kwargs: Any) -> str:
        if argv[0] == "debootstrap":
            make_root(Path(argv[-2]), STRIPPED + NEEDED)
        elif argv[0] == "tar":
            rootfs = Path(argv[2])
            packed.update({p: (rootfs / p).exists() for p in STRIPPED + NEEDED})
            packed["dpkg excludes"] = (rootfs / "etc/dpkg/dpkg.cfg.d/stackyard-slim").is_file()
        return ""

    monkeypatch.setattr(seam, "run", run)
    monkeypatch.setattr(images.os, "geteuid", lambda: 0)
    monkeypatch.setattr(images, "ensure_debootstrap", lambda: "debootstrap")
    monkeypatch.setattr(docker, "import_image", lambda tarball, ref, changes=(): imported.append(ref))
    cfg = config.load("dev", ROOT / "envs", environ={})
    images.bootstrap_base(cfg, tmp_path, "stackyard/base:test")
    assert imported == ["stackyard/base:test"]
    assert [p for p in STRIPPED if packed[p]] == [] and all(packed[p] for p in NEEDED)
    assert packed["dpkg excludes"]
