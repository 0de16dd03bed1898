"""git: the revision and cleanliness of the working tree, for image tags."""

from tooling.cli import run as seam


def head_revision(repo: str) -> str:
    return seam.run(["git", "-C", repo, "rev-parse", "--short=12", "HEAD"]).strip()


def changed_paths(repo: str, paths: list[str]) -> list[str]:
    """Tracked-and-modified or untracked (not ignored) files under `paths`."""
    out = seam.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=all", "--", *paths])
    return [line[3:] for line in out.splitlines() if line.strip()]
