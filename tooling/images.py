"""Which images the stack needs, how they are tagged, and building the ones that are missing.

Base and infrastructure images come from one of two sources (config `images.source`):
- upstream: pinned public images (python, redis, postgres), pulled;
- bootstrap: no registry answers — a Debian base made with debootstrap and `docker import`,
  redis and postgres built on it from Debian's packages.
`auto` uses what is already present, else tries one pull, else bootstraps.

Service images are tagged with the git revision, plus `-dirty-<digest of the changed build
inputs>` for an uncommitted tree, so a tag always names one content and never `:latest`.
"""

import functools
import hashlib
import os
import platform
import shutil
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from tooling import image_reuse, progress
from tooling.cli import debian, docker, git, python
from tooling.config import StackConfig
from tooling.errors import CommandError, StackyardError

COMPONENTS = ("gateway", "orchestrator", "worker", "memory", "model")
BUILD_INPUTS = ["services/stackyard", "services/pyproject.toml", "deploy/docker"]
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# What no runtime of the images reads, removed from the debootstrap root before `docker import`
# (globs relative to the root; a directory holding a ROOTFS_KEEP path is emptied around it).
# The stdlib's ensurepip and /usr/share/python-wheels stay: the service build runs `python3 -m venv`.
ROOTFS_STRIP = (
    "usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/lintian/*", "usr/share/locale/*",
    "var/cache/apt/archives/*.deb", "var/cache/apt/archives/partial/*", "var/cache/apt/*.bin",
    "var/lib/apt/lists/*", "var/cache/debconf/*-old", "var/lib/dpkg/*-old", "var/log/*.log", "var/log/apt/*",
    "usr/lib/python3*/test", "usr/lib/python3*/idlelib", "usr/lib/python3*/tkinter", "usr/lib/python3*/turtledemo",
    "usr/lib/python3*/lib2to3/tests", "usr/lib/python3*/distutils/tests", "usr/lib/python3*/unittest/test",
    "usr/lib/python3*/__pycache__/turtle.*", "usr/lib/python3*/turtle.py",
)
# Kept: copyright notices (licences), the locale alias table. C.UTF-8 lives in /usr/lib/locale, not stripped.
ROOTFS_KEEP = ("usr/share/doc/*/copyright", "usr/share/locale/locale.alias")
# Written into the root so the packages the infrastructure Dockerfiles install skip the same paths
# (dpkg path-exclude) and apt keeps neither downloaded .debs nor its binary caches in a layer.
ROOTFS_CONFIG = {
    "etc/dpkg/dpkg.cfg.d/stackyard-slim": (
        "# stackyard: images carry no documentation, manuals or translations (tooling/images.py)\n"
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/lintian/*\n"
        "path-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n"),
    "etc/apt/apt.conf.d/stackyard-slim": (
        "// stackyard: no .deb or binary cache is left in an image layer (tooling/images.py)\n"
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\nAcquire::Languages "none";\n'
        'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'),
}
SERVICE_DOCKERFILE = "deploy/docker/service.Dockerfile"
# Infrastructure images: in bootstrap mode built from these files (the first is the Dockerfile;
# all of them key the tag); in upstream mode pulled by the same name from config images.upstream.
INFRA_DOCKERFILES = {
    "redis": ["deploy/docker/redis.Dockerfile"],
    "postgres": ["deploy/docker/postgres.Dockerfile", "deploy/docker/postgres-entrypoint.sh"],
    "edge": ["deploy/docker/edge.Dockerfile"],
    "prometheus": ["deploy/docker/prometheus.Dockerfile"],
    "alertmanager": ["deploy/docker/alertmanager.Dockerfile"],
}
# What every stack needs; the rest (monitoring) is made only when asked for.
CORE_INFRA = ("redis", "postgres", "edge")
PULL_TIMEOUT = 20.0


@dataclass(frozen=True)
class ImagePlan:
    source: str
    tag: str
    base: str
    infra: dict[str, str]
    services: dict[str, str]

    @property
    def redis(self) -> str:
        return self.infra["redis"]

    @property
    def postgres(self) -> str:
        return self.infra["postgres"]

    def all(self) -> list[str]:
        return [self.base, *self.infra.values(), *self.services.values()]


def digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def compute_tag(revision: str | None, changed: dict[str, bytes | None]) -> str:
    """`<rev>` for a clean tree; `<rev>-dirty-<digest>` when build inputs differ from it.

    `changed` maps each changed path to its content (None: deleted)."""
    base = revision or "norev"
    if not changed:
        return base
    parts = [f"{path}\0".encode() + (content if content is not None else b"\0deleted")
             for path, content in sorted(changed.items())]
    return f"{base}-dirty-{digest(*parts)[:10]}"


def source_tag(root: Path) -> str:
    try:
        revision: str | None = git.head_revision(str(root))
    except CommandError:
        revision = None  # not a git checkout, or no commit yet
    try:
        paths = git.changed_paths(str(root), BUILD_INPUTS)
    except CommandError:
        paths = []
    changed = {p: (root / p).read_bytes() if (root / p).is_file() else None for p in paths}
    if revision is None and not changed:
        changed = {"(no git)": digest(*[(root / p).read_bytes() for p in _tree(root)]).encode()}
    return compute_tag(revision, changed)


def _tree(root: Path) -> list[str]:
    files: list[str] = []
    for top in BUILD_INPUTS:
        path = root / top
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [str(p.relative_to(root)) for p in candidates if p.is_file() and "__pycache__" not in p.parts]
    return files


def base_ref(config: StackConfig) -> str:
    """Keyed by everything that makes the base: suite, mirror, packages and what is stripped or written."""
    key = digest(config.images.suite.encode(), config.images.debian_mirror.encode(), " ".join(BASE_PACKAGES).encode(),
                 "\0".join(ROOTFS_STRIP).encode(), "\0".join(ROOTFS_KEEP).encode(),
                 *[f"{path}\0{text}".encode() for path, text in sorted(ROOTFS_CONFIG.items())])
    return f"{config.images.repository}/base:{config.images.suite}-{key[:10]}"


def infra_ref(config: StackConfig, root: Path, name: str, base: str) -> str:
    key = digest(base.encode(), *[(root / f).read_bytes() for f in INFRA_DOCKERFILES[name]])
    return f"{config.images.repository}/{name}:deb-{key[:10]}"


def make_plan(config: StackConfig, root: Path, source: str, tag: str | None = None) -> ImagePlan:
    tag = tag or source_tag(root)
    services = {c: f"{config.images.repository}/{c}:{tag}" for c in COMPONENTS}
    if source == "upstream":
        up = config.images.upstream
        return ImagePlan("upstream", tag, up.python, {n: getattr(up, n) for n in INFRA_DOCKERFILES}, services)
    base = base_ref(config)
    return ImagePlan("bootstrap", tag, base, {n: infra_ref(config, root, n, base) for n in INFRA_DOCKERFILES},
                     services)


def offline_plan(config: StackConfig, root: Path) -> ImagePlan:
    """The plan without asking Docker: service tags do not depend on the source; `auto` is shown
    as bootstrap."""
    return make_plan(config, root, config.images.source if config.images.source != "auto" else "bootstrap")


def resolve_source(config: StackConfig, root: Path) -> str:
    if config.images.source != "auto":
        return config.images.source
    bootstrap = make_plan(config, root, "bootstrap", tag="-")
    if docker.image_exists(bootstrap.base):
        return "bootstrap"
    upstream = config.images.upstream
    if all(docker.image_exists(getattr(upstream, n)) for n in ("python", *INFRA_DOCKERFILES)):
        return "upstream"
    try:
        docker.pull(upstream.python, timeout=PULL_TIMEOUT)
        return "upstream"
    except CommandError as error:
        last = (error.stderr.strip().splitlines() or ["no answer"])[-1]
        progress.say(f"  no registry answers ({last[:120]}); bootstrapping images from Debian packages")
        return "bootstrap"


def wheel_platforms(arch: str) -> list[str]:
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(arch)
    if machine is None:
        raise StackyardError(f"no wheels are known for the engine's architecture {arch!r}",
                             "build on an x86_64 or arm64 Docker engine")
    return [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}", f"manylinux_2_28_{machine}"]


def service_requirements(root: Path) -> list[str]:
    data = tomllib.loads((root / "services/pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def ensure_wheelhouse(root: Path, arch: str) -> Path:
    """Wheels for the images' Python (3.11, manylinux), downloaded on the host once per lock."""
    requirements = service_requirements(root)
    platforms = wheel_platforms(arch)
    key = digest("\n".join(requirements).encode(), " ".join(platforms).encode())[:12]
    target = root / ".stackyard" / "wheelhouse" / key
    if (target / "requirements.txt").exists():
        return target
    partial = target.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    args = ["--quiet", "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311", "--dest", str(partial)]
    for name in platforms:
        args += ["--platform", name]
    with progress.step(f"downloading {len(requirements)} service dependencies as wheels"):
        try:
            python.pip_download([*args, *requirements], timeout=600)
        except CommandError as error:
            raise StackyardError(f"could not download the services' wheels:\n{error}",
                                 "check that PyPI (or your pip index) is reachable from this host") from error
    (partial / "requirements.txt").write_text("\n".join(requirements) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def ensure_debootstrap() -> str:
    found = shutil.which("debootstrap")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        with progress.step("installing debootstrap (apt-get)"):
            debian.apt_install(["debootstrap"])
        return shutil.which("debootstrap") or "debootstrap"
    raise StackyardError("`debootstrap` is needed to bootstrap the base image and is not installed",
                         "install it (`sudo apt-get install debootstrap`), or set images.source: upstream "
                         "where a registry answers")


def slim_rootfs(rootfs: Path) -> int:
    """Remove ROOTFS_STRIP from a root filesystem (keeping ROOTFS_KEEP) and write ROOTFS_CONFIG; return bytes freed.

    Symbolic links are removed, never followed: an absolute link in the root points into the host."""
    kept = {path for pattern in ROOTFS_KEEP for path in rootfs.glob(pattern)}
    freed = sum(_remove(path, kept) for pattern in ROOTFS_STRIP for path in sorted(rootfs.glob(pattern)))
    for relative, text in ROOTFS_CONFIG.items():
        target = rootfs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return freed


def _remove(path: Path, kept: set[Path]) -> int:
    if path in kept or not os.path.lexists(path):
        return 0
    if path.is_dir() and not path.is_symlink():
        if any(k.is_relative_to(path) for k in kept):
            return sum(_remove(child, kept) for child in sorted(path.iterdir()))
        size = sum(os.lstat(os.path.join(top, name)).st_size for top, _, names in os.walk(path) for name in names)
        shutil.rmtree(path)
        return size
    size = path.lstat().st_size
    path.unlink()
    return size


def bootstrap_base(config: StackConfig, root: Path, ref: str) -> None:
    if os.geteuid() != 0:
        raise StackyardError("bootstrapping the base image runs debootstrap, which needs root",
                             "run `sudo ./dev images.base` once, or set images.source: upstream "
                             "where a registry answers")
    debootstrap = ensure_debootstrap()
    work = root / ".stackyard"
    work.mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="rootfs-", dir=work))
    try:
        rootfs, tarball = scratch / "rootfs", scratch / "rootfs.tar"
        with progress.step(f"debootstrap {config.images.suite} ({', '.join(BASE_PACKAGES)}) — about a minute"):
            try:
                debian.debootstrap(debootstrap, config.images.suite, rootfs, config.images.debian_mirror,
                                   include=BASE_PACKAGES)
            except CommandError as error:
                raise StackyardError(f"debootstrap failed:\n{error}",
                                     f"check that {config.images.debian_mirror} is reachable") from error
        with progress.step(f"importing {ref}"):
            freed = slim_rootfs(rootfs)
            progress.say(f"  stripped {freed / 2**20:.0f} MiB the images never read (docs, manuals, caches, tests)")
            debian.pack(rootfs, tarball)
            docker.import_image(tarball, ref, changes=["ENV LANG=C.UTF-8", 'CMD ["python3"]'])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pull(ref: str) -> None:
    with progress.step(f"pulling {ref}"):
        try:
            docker.pull(ref)
        except CommandError as error:
            raise StackyardError(f"could not pull {ref}",
                                 "no registry answers? set images.source: bootstrap") from error


def ensure_base(plan: ImagePlan, config: StackConfig, root: Path) -> None:
    if docker.image_exists(plan.base):
        return
    if plan.source == "bootstrap":
        bootstrap_base(config, root, plan.base)
    else:
        _pull(plan.base)


def ensure_infra(plan: ImagePlan, root: Path, names: tuple[str, ...], rebuild: bool = False) -> None:
    """Infrastructure images by name: built from Debian's packages, or pulled upstream."""
    for name in names:
        ref = plan.infra[name]
        if docker.image_exists(ref) and not (rebuild and plan.source == "bootstrap"):
            continue
        if plan.source == "bootstrap":
            with progress.step(f"building {ref} from Debian's package"):
                _build(root, INFRA_DOCKERFILES[name][0], ref, {"BASE_IMAGE": plan.base})
        else:
            _pull(ref)


def _build(root: Path, dockerfile: str, ref: str, build_args: dict[str, str],
           labels: dict[str, str] | None = None) -> None:
    docker.build(root, dockerfile=root / dockerfile, tag=ref, build_args=build_args,
                 labels={"org.opencontainers.image.version": ref.rsplit(":", 1)[1], **(labels or {})})


def ensure_images(config: StackConfig, root: Path, *, rebuild: bool = False, services: bool = True,
                  infra: tuple[str, ...] = CORE_INFRA, live_source: bool = False) -> ImagePlan:
    """Build (or pull) every image the stack needs that is not present; return the plan.

    `infra` names the infrastructure images wanted; `services=False` skips the service images."""
    plan = make_plan(config, root, resolve_source(config, root))
    if live_source and not rebuild and not all(docker.image_exists(ref) for ref in plan.services.values()):
        plan = _reuse_runtime(config, root, plan)
    ensure_base(plan, config, root)
    # Everything else builds on the base and on nothing else: side by side, the service images
    # (one after another: they share their first stage) beside each infrastructure image.
    jobs = [functools.partial(_ensure_services, plan, root, rebuild)] if services else []
    jobs += [functools.partial(ensure_infra, plan, root, (name,), rebuild) for name in infra]
    with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        futures = [pool.submit(job) for job in jobs]
    for future in futures:
        future.result()  # a failed build raises here, after the others have finished
    return plan


def _reuse_runtime(config: StackConfig, root: Path, plan: ImagePlan) -> ImagePlan:
    """Under --watch (image_reuse.py): images of an earlier tree with this tree's runtime will do."""
    key = image_reuse.runtime_key(plan.base, root, SERVICE_DOCKERFILE)
    tag = image_reuse.reusable_tag(config.images.repository, COMPONENTS, key)
    if tag is None:
        return plan
    progress.say(f"  --watch: the images :{tag} have this tree's runtime; the code comes from the checkout")
    return replace(plan, tag=tag, services={c: f"{config.images.repository}/{c}:{tag}" for c in COMPONENTS})


def _ensure_services(plan: ImagePlan, root: Path, rebuild: bool) -> None:
    missing = [c for c, ref in plan.services.items() if rebuild or not docker.image_exists(ref)]
    if missing:
        arch = docker.architecture() or platform.machine()
        wheelhouse = ensure_wheelhouse(root, arch).relative_to(root)
        for component in missing:
            with progress.step(f"building {plan.services[component]}"):
                _build(root, SERVICE_DOCKERFILE, plan.services[component], {
                    "BASE_IMAGE": plan.base, "WHEELHOUSE": str(wheelhouse), "COMPONENT": component,
                }, {image_reuse.RUNTIME_LABEL: image_reuse.runtime_key(plan.base, root, SERVICE_DOCKERFILE)})


def stale_refs(present: list[str], keep: list[str], repository: str) -> list[str]:
    """The project's service images other than the ones to keep (older revisions, dirty builds).

    Base and infrastructure images are kept: their tags name their content, not a revision."""
    services = {f"{repository}/{component}" for component in COMPONENTS}
    return sorted(ref for ref in present if ref.rsplit(":", 1)[0] in services and ref not in keep)


def prune(config: StackConfig, root: Path, *, dry_run: bool = False) -> list[str]:
    """Remove service images of other revisions than the current tree's; return what was (or would be) removed."""
    plan = offline_plan(config, root)
    stale = stale_refs(docker.image_tags(), list(plan.services.values()), config.images.repository)
    if stale and not dry_run:
        with progress.step(f"removing {len(stale)} image tag(s) of other revisions"):
            try:
                docker.remove_images(stale)
            except CommandError as error:
                raise docker.explain(error, "removing old images") from error
    return stale
