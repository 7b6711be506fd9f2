"""Sessions CI runs unchanged: ``nox -s tests lint compat``; ``bench`` and ``e2e`` on request."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import nox

nox.options.sessions = ["tests", "lint", "compat"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = os.environ.get("FLOWDSL_NOX_PYTHON")  # None: the interpreter running nox


def _interpreter(version: str) -> str | None:
    """A working ``python<version>``: on PATH, else one pyenv installed (its shims only work
    for the selected versions). None if there is none."""
    candidates = [shutil.which(f"python{version}")]
    pattern = os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")
    candidates += sorted(glob.glob(pattern))
    for candidate in candidates:
        if candidate is None:
            continue
        works = subprocess.run([candidate, "-c", "pass"], check=False, capture_output=True)
        if works.returncode == 0:
            return candidate
    return None


#: The oldest and the newest Python flowdsl supports (pyproject's requires-python), where
#: this machine has them: bugs that only one version shows (3.10's generic aliases) surface.
COMPAT_PYTHONS = [p for p in (_interpreter("3.10"), _interpreter("3.13")) if p]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (schema, lint, local runs; no cluster needed)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-m", "not e2e", *session.posargs)


@nox.session(python=COMPAT_PYTHONS or None)
def compat(session: nox.Session) -> None:
    """The suite on the oldest and newest supported Pythons (skipped where there are none)."""
    if not COMPAT_PYTHONS:
        session.skip("neither Python 3.10 nor 3.13 is installed here")
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-m", "not e2e", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (lint and format) over everything, mypy --strict over the package."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks beside Hera, one table (see docs/performance.md); posargs: --quick, --full."""
    session.install("-e", ".[test]")
    session.run("python", os.path.join("benchmarks", "run.py"), *session.posargs)


@nox.session(python=PYTHON)
def e2e(session: nox.Session) -> None:
    """End-to-end against a real Argo server; needs ARGO_SERVER (skipped otherwise)."""
    if not os.environ.get("ARGO_SERVER"):
        session.skip("ARGO_SERVER is not set: no Argo server to test against")
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-m", "e2e", *session.posargs)
