"""``python -m flowdsl init``: what a project needs to run its flows on a cluster.

Writes a starter ``[tool.flowdsl]`` section (appended to pyproject.toml, or a new
pyproject.toml), a ``Dockerfile`` for the image every task runs in, and a ``.dockerignore``.
Existing files are never overwritten: an existing Dockerfile or ``[tool.flowdsl]`` section is
left as it is and reported as skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flowdsl._version import __version__

__all__ = ["init_project"]

_CONFIG = """
[tool.flowdsl]
# Defaults for every flow and task of this project; a flow's or task's own options win.
# Reference: docs/options.md of flowdsl. Build the image with the Dockerfile next to this file.
image = "registry.example.com/{name}:latest"
image_pull_policy = "IfNotPresent"
timeout = "4h"              # each task
workflow_timeout = "1d"     # each run

[tool.flowdsl.resources]
cpu = "500m"
memory = "512Mi"

# Named machine types, chosen with @task(profile="gpu").
[tool.flowdsl.profiles.gpu]
resources = {{ cpu = "4", memory = "16Gi", gpu = 1 }}
tolerations = [{{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }}]
"""

_DOCKERFILE = """\
# The image every task of this project runs in (written by `python -m flowdsl init`).
# Same Python minor version as the one that compiles the flows: by-value task code
# (cloudpickle) needs it. The project is installed and on PYTHONPATH, so both code modes work.
FROM python:{python}-slim
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir {install}
ENV PYTHONPATH=/app
"""

_DOCKERIGNORE = """\
.git
.venv
.nox
.flowdsl
**/__pycache__
*.pyc
.mypy_cache
.pytest_cache
.ruff_cache
dist
build
"""


def init_project(directory: Path, *, out: list[str]) -> None:
    """Write the starter files into ``directory``; ``out`` collects one line per file."""
    directory.mkdir(parents=True, exist_ok=True)
    name = directory.resolve().name.lower().replace("_", "-") or "project"
    pyproject = directory / "pyproject.toml"
    section = _CONFIG.format(name=name)
    if not pyproject.exists():
        pyproject.write_text(f'[project]\nname = "{name}"\nversion = "0.1.0"\n' + section)
        out.append(f"wrote {pyproject} (with a [tool.flowdsl] section)")
    elif "[tool.flowdsl]" in pyproject.read_text(encoding="utf-8"):
        out.append(f"skipped {pyproject}: it already has a [tool.flowdsl] section")
    else:
        with pyproject.open("a", encoding="utf-8") as handle:
            handle.write(section)
        out.append(f"added a [tool.flowdsl] section to {pyproject}")

    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = f'. "flowdsl=={__version__}"'
    requirements = directory / "requirements.txt"
    if requirements.exists():
        install = f'-r requirements.txt . "flowdsl=={__version__}"'
    _write_new(directory / "Dockerfile", _DOCKERFILE.format(python=python, install=install), out)
    _write_new(directory / ".dockerignore", _DOCKERIGNORE, out)


def _write_new(path: Path, text: str, out: list[str]) -> None:
    if path.exists():
        out.append(f"skipped {path}: it exists (never overwritten)")
        return
    path.write_text(text, encoding="utf-8")
    out.append(f"wrote {path}")
