"""Sessions CI runs unchanged: ``nox -s tests lint``; ``bench`` and ``e2e`` on request."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = os.environ.get("FLOWDSL_NOX_PYTHON")  # None: the interpreter running nox


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite (schema, lint, local runs; no cluster needed)."""
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
