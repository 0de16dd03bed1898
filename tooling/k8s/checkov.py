"""Check 3: checkov's policies over every rendering, with every skip written next to its reason.

The skips live in deploy/orchestration/checkov.yaml or in a checkov.io/skipN annotation on the
object; the command itself is the tooling/cli/checkov.py adapter's.
"""

import json
import re
import tempfile
from pathlib import Path

from tooling.cli import checkov
from tooling.k8s.problems import K8sError, Problem
from tooling.k8s.rendering import Rendering


def checkov_problems(renderings: list[Rendering], config_file: Path) -> list[Problem]:
    """One checkov run over every rendering (its start-up dominates: run it once)."""
    with tempfile.TemporaryDirectory(prefix="stackyard-checkov-") as tmp:
        labels = {}
        for index, rendering in enumerate(renderings):
            name = f"{index:02d}-{re.sub(r'[^a-z0-9+]+', '-', rendering.label)}.yaml"
            (Path(tmp) / name).write_text(rendering.text)
            labels[f"/{name}"] = rendering.label
        output = checkov.scan(Path(tmp), config_file)
    try:
        data = json.loads(output)
    except json.JSONDecodeError as error:
        raise K8sError(f"checkov printed no JSON: {output[:300]!r}", "run checkov by hand to see why") from error
    reports = data if isinstance(data, list) else [data]
    problems = []
    for report in reports:
        results = report.get("results") or {}
        for failed in results.get("failed_checks") or []:
            label = labels.get(failed.get("file_path", ""), failed.get("file_path", "?"))
            kind, _, rest = str(failed.get("resource", "")).partition(".")
            problems.append(Problem(label, f"{kind}/{rest.partition('.')[2] or rest}",
                                    f"{failed.get('check_id')}: {failed.get('check_name')} — fix it, or skip it "
                                    "with its reason (deploy/orchestration/checkov.yaml or a checkov.io/skipN "
                                    "annotation on the object)", "checkov"))
        for path in (report.get("summary") or {}).get("parsing_errors_files") or []:
            problems.append(Problem(labels.get(path, path), "", "checkov could not parse it", "checkov"))
    return problems
