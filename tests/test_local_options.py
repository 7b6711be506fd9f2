"""Execution options in the local engine: secrets, memoize, volumes, retries, ignored fields.

Each feature runs a hand-written manifest from data/manifests/options-*.yaml (or a small
variant of one) and checks what Argo would do, or the engine's refusal, verbatim.
"""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl.errors import RunError
from flowdsl.local import LocalRun, NodeRecord, exprlang, run_manifest
from flowdsl.local.cache import CacheError, MemoCache
from flowdsl.local.sources import Masker, Sources, SourcesError, parse_dotenv, variable_name
from flowdsl.local.values import parse_go_duration

MANIFESTS = Path(__file__).parent / "data" / "manifests"

SECRET = "s3cr3t-token-value"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run(manifest: str | dict[str, Any], tmp_path: Path, **kwargs: Any) -> LocalRun:
    kwargs.setdefault("progress", "off")
    kwargs.setdefault("env_file", tmp_path / ".env")
    doc = load(manifest) if isinstance(manifest, str) else manifest
    return run_manifest(doc, runs_root=tmp_path / "runs", **kwargs)


def node(result: LocalRun, display: str) -> NodeRecord:
    return result.node(display)


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["spec"]["templates"] if t["name"] == name)
    return found


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No stray FLOWDSL_SECRET_* (or same-named) variables, and tmp_path as the cwd."""
    import os

    for name in list(os.environ):
        if name.startswith("FLOWDSL_SECRET_") or name in (
            "DEPLOY_TOKEN",
            "REGION",
            "TRANSIENT_ERROR_PATTERN",
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


class TestSecretLookup:
    def test_variable_name(self) -> None:
        """Name and key are upper-cased, everything but A-Z and 0-9 becomes '_'."""
        assert (
            variable_name("deploy-credentials", "token")
            == "FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN"
        )
        assert (
            variable_name("app.config", "settings.json")
            == "FLOWDSL_SECRET_APP_CONFIG_SETTINGS_JSON"
        )

    def test_lookup_order(self, tmp_path: Path) -> None:
        """Specific name before the container's own; the environment before .env."""
        env_file = tmp_path / ".env"
        env_file.write_text(
            "FLOWDSL_SECRET_S_A=from-dotenv\nFLOWDSL_SECRET_S_B=b-dotenv\nPLAIN=plain-dotenv\n"
        )
        sources = Sources(
            {"FLOWDSL_SECRET_S_A": "from-env", "PLAIN": "plain-env", "OTHER": "x"}, env_file
        )

        def value(key: str, variable: str | None = None) -> str | None:
            found = sources.lookup("s", key, variable)
            return None if found is None else found.value

        assert value("a", "PLAIN") == "from-env"  # 1. FLOWDSL_SECRET_* in the environment
        assert value("b", "PLAIN") == "b-dotenv"  # 2. FLOWDSL_SECRET_* in .env
        assert value("c", "PLAIN") == "plain-env"  # 3. the variable in the environment
        found = Sources({}, env_file).lookup("s", "c", "PLAIN")
        assert found is not None
        assert (found.value, found.origin) == ("plain-dotenv", str(env_file))  # 4. in .env
        assert value("c") is None

    def test_any_spelling_that_normalises_the_same(self, tmp_path: Path) -> None:
        """A .env line may spell the key as it is; a whole object keeps that spelling."""
        env_file = tmp_path / ".env"
        env_file.write_text("FLOWDSL_SECRET_app-config_settings.json='{\"a\": 1}'\n")
        sources = Sources({}, env_file)
        found = sources.lookup("app-config", "settings.json")
        assert found is not None
        assert found.value == '{"a": 1}'
        assert list(sources.whole("app-config")) == ["settings.json"]
        assert sources.whole("other") == {}

    def test_dotenv_format(self) -> None:
        """Comments, export, quotes (multi-line, escapes), inline comments of unquoted values."""
        text = (
            "# a comment\n"
            "export A=1\n"
            'B = "two\\nlines"  # note\n'
            "C='single # kept'\n"
            "D=plain value # comment\n"
            'E="multi\n'
            'line"\n'
            "\n"
            "F=\n"
        )
        assert parse_dotenv(text) == {
            "A": "1",
            "B": "two\nlines",
            "C": "single # kept",
            "D": "plain value",
            "E": "multi\nline",
            "F": "",
        }

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("A=1\nsecret-without-equals\n", ".env, line 2: expected NAME=value"),
            ('A="never closed\n', ".env, line 1: the quoted value of A is not closed"),
            ('A="x" trailing\n', ".env, line 1: unexpected text after the quoted value of A"),
        ],
    )
    def test_dotenv_errors_never_show_values(self, text: str, message: str) -> None:
        """A malformed .env names the line, not its content."""
        with pytest.raises(SourcesError) as info:
            parse_dotenv(text)
        assert str(info.value) == message

    def test_bad_dotenv_refuses_the_run(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A .env that does not parse is a RunError before anything starts."""
        (tmp_path / ".env").write_text("oops\n")
        with pytest.raises(RunError) as info:
            run("options-secrets.yaml", tmp_path)
        assert str(info.value) == (
            f"flow 'options-secrets': {tmp_path / '.env'}, line 1: expected NAME=value; "
            "write one NAME=value a line"
        )


class TestSecrets:
    def test_values_from_environment_and_dotenv(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A secretKeyRef from the environment, a configMapKeyRef from .env; optional unset."""
        clean_env.setenv("FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN", SECRET)
        (tmp_path / ".env").write_text("FLOWDSL_SECRET_CLUSTER_INFO_REGION=eu-west-1\n")
        result = run("options-secrets.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        # The FLOWDSL_SECRET_* variable itself does not reach the process.
        assert node(result, "show").result == "token=*** region=eu-west-1 optional=unset leaked=no"

    def test_default_dotenv_is_the_current_directory(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without env_file, .env in the current directory is read; the plain name also works."""
        clean_env.setenv("DEPLOY_TOKEN", SECRET)
        (tmp_path / ".env").write_text("REGION=us-east-1\n")
        result = run_manifest(
            load("options-secrets.yaml"), runs_root=tmp_path / "runs", progress="off"
        )
        assert result.status == "Succeeded", result.message
        assert node(result, "show").result == "token=*** region=us-east-1 optional=unset leaked=no"

    def test_missing_value_refuses_the_run(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A missing value is refused before anything runs, naming both ways to provide it."""
        clean_env.setenv("FLOWDSL_SECRET_CLUSTER_INFO_REGION", "eu-west-1")
        with pytest.raises(RunError) as info:
            run("options-secrets.yaml", tmp_path)
        assert str(info.value) == (
            "flow 'options-secrets': templates 'show', 'check': environment variable "
            "DEPLOY_TOKEN reads key 'token' of Secret 'deploy-credentials', which has no value "
            "locally; set FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN (or DEPLOY_TOKEN) in the "
            "environment, or add FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN=<value> to "
            f"{tmp_path / '.env'}"
        )
        assert not (tmp_path / "runs").exists()

    def test_every_missing_value_is_named(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The first missing value in full, the others by name."""
        with pytest.raises(RunError) as info:
            run("options-secrets.yaml", tmp_path, env_file=None)
        assert str(info.value) == (
            "flow 'options-secrets': templates 'show', 'check': environment variable "
            "DEPLOY_TOKEN reads key 'token' of Secret 'deploy-credentials', which has no value "
            "locally (also missing: REGION in template 'show', REGION in template 'check'); "
            "set FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN (or DEPLOY_TOKEN) in the environment"
        )

    def test_templated_reference_is_looked_up_when_it_runs(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A Secret named by a parameter is looked up when its node runs: missing, it errors."""
        clean_env.setenv("FLOWDSL_SECRET_CLUSTER_INFO_REGION", "eu-west-1")
        clean_env.setenv("FLOWDSL_SECRET_BLUE_TOKEN", SECRET)
        doc = load("options-secrets.yaml")
        doc["spec"]["arguments"] = {"parameters": [{"name": "which", "value": "blue"}]}
        for name in ("show", "check"):
            ref = template(doc, name)["container"]["env"][0]["valueFrom"]["secretKeyRef"]
            ref["name"] = "{{workflow.parameters.which}}"
        assert run(copy.deepcopy(doc), tmp_path).status == "Succeeded"
        result = run(doc, tmp_path, parameters={"which": "green"})
        show = node(result, "show")
        assert (show.phase, show.message) == (
            "Error",
            "environment variable DEPLOY_TOKEN reads key 'token' of Secret 'green', which has "
            "no value locally; set FLOWDSL_SECRET_GREEN_TOKEN (or DEPLOY_TOKEN) in the "
            f"environment, or add FLOWDSL_SECRET_GREEN_TOKEN=<value> to {tmp_path / '.env'}",
        )

    def test_env_from(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """envFrom sets every key found, with its prefix; env entries override it."""
        (tmp_path / ".env").write_text(
            "FLOWDSL_SECRET_DB_USER=alice\nFLOWDSL_SECRET_DB_PASSWORD=hunter2-pw\n"
        )
        doc = load("options-ignored.yaml")
        body = template(doc, "work")["container"]
        body["envFrom"] = [{"prefix": "DB_", "secretRef": {"name": "db"}}]
        body["env"] = [{"name": "DB_USER", "value": "bob"}]
        body["command"] = ["sh", "-c", 'echo "$DB_USER $DB_PASSWORD"']
        result = run(doc, tmp_path)
        assert node(result, "work").result == "bob ***"

    def test_env_from_missing_object(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """envFrom of a Secret with no key found is refused, unless optional."""
        doc = load("options-ignored.yaml")
        body = template(doc, "work")["container"]
        body["envFrom"] = [{"secretRef": {"name": "db"}}]
        with pytest.raises(RunError) as info:
            run(doc, tmp_path)
        assert str(info.value) == (
            "flow 'options-ignored': template 'work': envFrom[0] reads every key of Secret "
            "'db', and none has a value locally; set FLOWDSL_SECRET_DB_<KEY> for each key in "
            f"the environment or {tmp_path / '.env'} (the rest of the name is the key, e.g. "
            f"FLOWDSL_SECRET_DB_key.json in {tmp_path / '.env'})"
        )
        body["envFrom"][0]["secretRef"]["optional"] = True
        assert run(doc, tmp_path).status == "Succeeded"


class TestMasking:
    def run_masked(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalRun:
        monkeypatch.setenv("FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN", SECRET)
        monkeypatch.setenv("FLOWDSL_SECRET_CLUSTER_INFO_REGION", "eu-west-1")
        return run("options-secrets.yaml", tmp_path)

    def test_records_hold_no_secret(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """run.json, node.json, stdout and stderr logs: masked; the next task got the value."""
        result = self.run_masked(clean_env, tmp_path)
        assert result.status == "Succeeded"  # 'check' compared the real value
        check = node(result, "check")
        assert check.inputs == {"seen": "token=*** region=eu-west-1 optional=unset leaked=no"}
        show = node(result, "show")
        assert show.stderr is not None
        assert show.stderr.read_text() == "on stderr: ***\n"
        written = [p for p in result.run_dir.rglob("*") if p.is_file()]
        assert written
        for path in written:
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path

    def test_progress_is_masked(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A failing task's stderr tail and message, as the progress shows them, are masked."""
        clean_env.setenv("FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN", SECRET)
        clean_env.setenv("FLOWDSL_SECRET_CLUSTER_INFO_REGION", "eu-west-1")
        doc = load("options-secrets.yaml")
        template(doc, "show")["container"]["command"] = [
            "sh",
            "-c",
            'echo "bad token $DEPLOY_TOKEN" >&2; exit 1',
        ]
        stream = io.StringIO()
        from flowdsl.local import progress

        original = progress.make_reporter
        clean_env.setattr(
            progress, "make_reporter", lambda choice, stream_=None: original("plain", stream)
        )
        result = run(doc, tmp_path, progress="plain")
        assert result.status == "Failed"
        text = stream.getvalue()
        assert "| bad token ***" in text
        assert SECRET not in text

    def test_masker(self, tmp_path: Path) -> None:
        """Longest value first, each line of a multi-line one, short values left alone."""
        masker = Masker()
        assert not masker
        masker.add("ab")
        assert not masker
        masker.add("token")
        masker.add("token-long")
        masker.add("line one\nline two")
        assert masker.mask("token-long token ab line two") == "*** *** ab ***"
        log = tmp_path / "log"
        for chunk_size in range(1, 24):  # occurrences cut by chunk ends are found
            log.write_bytes(b"x" * 9 + b"token-long" + b"y" * 30 + b"token" + b"-token")
            masker.mask_file(log, chunk_size=chunk_size)
            assert log.read_bytes() == b"x" * 9 + b"***" + b"y" * 30 + b"***-***", chunk_size
        untouched = tmp_path / "clean"
        untouched.write_bytes(b"nothing secret")
        masker.mask_file(untouched, chunk_size=4)
        assert untouched.read_bytes() == b"nothing secret"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "log"]


class TestMemoize:
    def test_second_run_is_a_cache_hit(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The second run does not run 'square'; it succeeds with the cached outputs."""
        log = tmp_path / "log.txt"
        first = run("options-memoize.yaml", tmp_path, parameters={"log": str(log)})
        assert first.status == "Succeeded", first.message
        status = node(first, "square").memoization
        assert status is not None
        assert (status.hit, status.cache_name) == (False, "options-memoize")
        second = run("options-memoize.yaml", tmp_path, parameters={"log": str(log)})
        square = node(second, "square")
        assert square.phase == "Succeeded"
        assert square.cached
        assert square.attempts == ()
        assert (dict(square.outputs), square.result, square.exit_code) == ({"y": "9"}, "done", 0)
        assert node(second, "show").result == "9 done"
        assert log.read_text().count("square") == 1
        data = json.loads((second.run_dir / "run.json").read_text())
        recorded = next(n for n in data["nodes"] if n["displayName"] == "square")
        assert recorded["memoizationStatus"] == {
            "hit": True,
            "key": status.key,
            "cacheName": "options-memoize",
        }

    def test_memoized_dag(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A memoized DAG template's hit runs none of its tasks and keeps its outputs."""
        log = tmp_path / "log.txt"
        run("options-memoize-dag.yaml", tmp_path, parameters={"log": str(log)})
        second = run("options-memoize-dag.yaml", tmp_path, parameters={"log": str(log)})
        inner = node(second, "inner")
        assert (inner.type, inner.cached, inner.children) == ("DAG", True, ())
        assert node(second, "use").result == "got hi"
        assert log.read_text() == "a\n"

    def test_key_is_substituted(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The key's {{=sprig.sha256sum(...)}} sees the inputs: another input, another key."""
        import hashlib

        log = tmp_path / "log.txt"
        result = run("options-memoize.yaml", tmp_path, parameters={"log": str(log), "x": "4"})
        status = node(result, "square").memoization
        assert status is not None
        assert status.key == "square-" + hashlib.sha256(b"4|[1,2]").hexdigest()
        entry = (
            tmp_path
            / "cache"
            / "options-memoize"
            / (hashlib.sha256(status.key.encode()).hexdigest() + ".json")
        )
        data = json.loads(entry.read_text())
        assert data["key"] == status.key
        assert data["outputs"] == {
            "parameters": [{"name": "y", "value": "16"}],
            "result": "done",
            "exitCode": "0",
        }
        run("options-memoize.yaml", tmp_path, parameters={"log": str(log), "x": "5"})
        assert log.read_text().count("square") == 2

    def test_miss_after_max_age(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """An entry older than maxAge (1s here) is a miss: the node runs and is saved again."""
        log = tmp_path / "log.txt"
        doc = load("options-memoize.yaml")
        template(doc, "square")["memoize"]["maxAge"] = "1s"
        first = run(copy.deepcopy(doc), tmp_path, parameters={"log": str(log)})
        status = node(first, "square").memoization
        assert status is not None
        entry = MemoCache(tmp_path / "cache").path("options-memoize", status.key)
        data = json.loads(entry.read_text())
        # Age the entry instead of waiting: the clock is the entry's creation time.
        data["creationTimestamp"] = (datetime.now(timezone.utc) - timedelta(seconds=5)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        entry.write_text(json.dumps(data))
        second = run(copy.deepcopy(doc), tmp_path, parameters={"log": str(log)})
        square = node(second, "square")
        assert not square.cached
        assert len(square.attempts) == 1
        assert log.read_text().count("square") == 2
        assert json.loads(entry.read_text())["nodeID"] == square.id

    def test_cache_clock(self, tmp_path: Path) -> None:
        """maxAge against the cache's clock: within it a hit, past it a miss."""
        now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
        cache = MemoCache(tmp_path, clock=lambda: now[0])
        memoize = {"key": "k", "maxAge": "1s", "cache": {"configMap": {"name": "c"}}}
        status, cached = cache.lookup(memoize)
        assert cached is None
        from flowdsl.local.cache import CachedOutputs

        cache.save(status, "n1", CachedOutputs({"p": "v"}, "r", 0))
        now[0] += timedelta(seconds=1)
        hit, cached = cache.lookup(memoize)
        assert hit.hit
        assert cached == CachedOutputs({"p": "v"}, "r", 0)
        now[0] += timedelta(milliseconds=1)
        assert cache.lookup(memoize)[1] is None

    def test_failed_nodes_are_not_cached(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A node that failed runs again next time; once it succeeds it is cached."""
        log = tmp_path / "log.txt"
        for _ in range(3):
            run("options-memoize.yaml", tmp_path, parameters={"log": str(log)})
        assert log.read_text().count("fail-once") == 2

    def test_progress_says_cached(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """The plain progress shows a hit as '(cached)', and where the cache is, once."""
        log = tmp_path / "log.txt"
        run("options-memoize.yaml", tmp_path, parameters={"log": str(log)})
        from flowdsl.local import progress

        stream = io.StringIO()
        original = progress.make_reporter
        clean_env.setattr(
            progress, "make_reporter", lambda choice, stream_=None: original("plain", stream)
        )
        run("options-memoize.yaml", tmp_path, parameters={"log": str(log)}, progress="plain")
        lines = [line[9:] for line in stream.getvalue().splitlines()]
        assert "✔ square (cached)" in lines
        assert (
            lines.count(
                f"note: memoized outputs are kept in {tmp_path / 'cache'} between local runs"
            )
            == 1
        )

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("key", "square.v1", "invalid cache key: square.v1"),
            ("key", "my_key", "invalid cache key: my_key"),
            ("maxAge", "1d", 'invalid maxAge: time: unknown unit "d" in duration "1d"'),
            ("maxAge", "10", 'invalid maxAge: time: missing unit in duration "10"'),
        ],
    )
    def test_argo_errors(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path, field: str, value: str, message: str
    ) -> None:
        """A key Argo's cache refuses, or a maxAge Go cannot parse, errors the node."""
        doc = load("options-memoize.yaml")
        template(doc, "square")["memoize"][field] = value
        result = run(doc, tmp_path, parameters={"log": str(tmp_path / "log")})
        square = node(result, "square")
        assert (square.phase, square.message) == ("Error", message)
        assert square.attempts == ()

    def test_cache_errors(self, tmp_path: Path) -> None:
        """A bad cache name, or a damaged entry, is a CacheError with the fix."""
        cache = MemoCache(tmp_path)
        with pytest.raises(CacheError, match=r"^invalid cache name '\.\./x'"):
            cache.lookup({"key": "k", "cache": {"configMap": {"name": "../x"}}})
        path = cache.path("c", "k")
        path.parent.mkdir(parents=True)
        path.write_text("{not json")
        with pytest.raises(CacheError, match=r"\(delete the file to forget it\)$"):
            cache.lookup({"key": "k", "cache": {"configMap": {"name": "c"}}})


class TestVolumes:
    def secrets(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("FLOWDSL_SECRET_API_CREDENTIALS_TOKEN", "tok-abc-123")
        (tmp_path / ".env").write_text(
            "FLOWDSL_SECRET_app-config_settings.json='{\"a\": 1}'\n"
            "FLOWDSL_SECRET_app-config_region.txt=eu\n"
        )

    def test_volumes_are_local_directories(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Claims are shared by the run, emptyDir is fresh, Secret and ConfigMap keys are files."""
        self.secrets(clean_env, tmp_path)
        result = run("options-volumes.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        read = node(result, "read")
        lines = (read.result or "").splitlines()
        claim = result.run_dir / "volumes" / "work"
        assert lines[:4] == [str(claim / "out"), "***", '{"a": 1}', "eu"]
        # The claim 'team-data' holds what 'write' wrote; 'read' took its output from there.
        assert (result.run_dir / "volumes" / "team-data" / "greeting.txt").read_text() == "hello\n"
        assert dict(read.outputs) == {"greeting": "hello"}
        # The Secret's directory was private and is gone.
        secret_dir = Path(lines[4])
        assert not secret_dir.is_relative_to(result.run_dir)
        assert not secret_dir.exists()
        write = node(result, "write")
        assert write.directory is not None
        assert (write.directory / "attempt-0" / "volumes" / "scratch" / "draft.txt").is_file()

    def test_claim_name_is_substituted(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """spec.volumes see the global scope: a claim named after a parameter."""
        self.secrets(clean_env, tmp_path)
        doc = load("options-volumes.yaml")
        doc["spec"]["arguments"] = {"parameters": [{"name": "claim", "value": "by-param"}]}
        doc["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = (
            "{{workflow.parameters.claim}}"
        )
        result = run(doc, tmp_path)
        assert result.status == "Succeeded", result.message
        assert (result.run_dir / "volumes" / "by-param" / "greeting.txt").is_file()

    def test_missing_volume_value(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """A Secret volume's key with no local value is refused before the run."""
        with pytest.raises(RunError) as info:
            run("options-volumes.yaml", tmp_path, env_file=None)
        assert str(info.value) == (
            "flow 'options-volumes': template 'read': volume 'creds' reads key 'token' of "
            "Secret 'api-credentials', which has no value locally; set "
            "FLOWDSL_SECRET_API_CREDENTIALS_TOKEN in the environment"
        )

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (
                lambda t: (
                    t["volumes"].append({"name": "host", "hostPath": {"path": "/srv"}})
                    or t["container"]["volumeMounts"].append({"name": "host", "mountPath": "/srv"})
                ),
                "template 'write': volume 'host' is a hostPath volume, which the local engine "
                "does not emulate (it emulates emptyDir, persistentVolumeClaim, secret, "
                "configMap and volumeClaimTemplates); run it on Argo instead, or use an "
                "emptyDir, persistentVolumeClaim, secret or configMap volume",
            ),
            (
                lambda t: t["container"]["volumeMounts"].append(
                    {"name": "scratch", "mountPath": "/data/"}
                ),
                "template 'write': container.volumeMounts[3]: volumes 'shared' and 'scratch' are "
                "both mounted at /data; give each volume its own mount path",
            ),
            (
                lambda t: t["container"]["volumeMounts"].append(
                    {"name": "scratch", "mountPath": "/"}
                ),
                "template 'write': container.volumeMounts[3]: mount path '/' cannot be emulated "
                "(it must be an absolute path below '/'); mount the volume at a directory such "
                "as /data",
            ),
            (
                lambda t: t["container"]["volumeMounts"][2].update(subPathExpr="$(POD)"),
                "template 'write': container.volumeMounts[2]: field 'subPathExpr' is not "
                "supported by the local engine; use subPath",
            ),
        ],
    )
    def test_refusals(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path, change: Any, message: str
    ) -> None:
        """What cannot be emulated is refused before the run, naming template and volume."""
        self.secrets(clean_env, tmp_path)
        doc = load("options-volumes.yaml")
        change(template(doc, "write"))
        with pytest.raises(RunError) as info:
            run(doc, tmp_path)
        assert str(info.value) == f"flow 'options-volumes': {message}"

    def test_unmounted_volumes_are_ignored(
        self, clean_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """A hostPath volume nobody mounts (as in options-volumes.yaml) is no reason to refuse."""
        self.secrets(clean_env, tmp_path)
        doc = load("options-volumes.yaml")
        assert any("hostPath" in v for v in doc["spec"]["volumes"])
        assert run(doc, tmp_path).status == "Succeeded"


class TestRetries:
    def attempts(self, result: LocalRun) -> dict[str, tuple[int, str, str]]:
        return {
            n.display_name: (len(n.attempts), n.phase, n.message)
            for n in result.nodes
            if n.type == "Pod"
        }

    def test_policies_and_max_duration(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Each retryPolicy retries the phases Argo's does; maxDuration stops as Argo says."""
        result = run("options-retries.yaml", tmp_path, max_parallel=16)
        got = self.attempts(result)
        missing = "output parameter 'out': the command wrote no file at /tmp/out"
        failed = "Error (exit code 1)"
        assert {name: (n, phase) for name, (n, phase, _) in got.items()} == {
            "always-failed": (2, "Failed"),
            "always-error": (2, "Error"),
            "onfailure-failed": (2, "Failed"),
            "onfailure-error": (1, "Error"),
            "onerror-error": (2, "Error"),
            "onerror-failed": (1, "Failed"),
            "transient": (1, "Failed"),
            "expression-default": (2, "Error"),
            "backoff-exceeds": (1, "Failed"),
            "max-duration": (1, "Failed"),
            "execution-deadline": (2, "Failed"),
            "no-duration": (1, "Error"),
        }
        assert got["always-failed"][2] == f"{failed} (No more retries left)"
        assert got["onfailure-error"][2].startswith(missing)
        assert got["onerror-failed"][2] == failed
        assert got["transient"][2] == "Error (exit code 3)"
        assert got["backoff-exceeds"][2] == f"{failed} (Backoff would exceed max duration limit)"
        assert got["max-duration"][2] == f"{failed} (Max duration limit exceeded)"
        assert got["execution-deadline"][2] == (
            "Step exceeded its deadline (retryStrategy.backoff.maxDuration: 0.5s) "
            "(Max duration limit exceeded)"
        )
        assert got["no-duration"][2] == "no base duration specified for retryStrategy"

    def test_transient_error_pattern(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """OnTransientError retries a failure whose message matches TRANSIENT_ERROR_PATTERN."""
        clean_env.setenv("TRANSIENT_ERROR_PATTERN", r"exit code [34]\)")
        doc = load("options-retries.yaml")
        doc["spec"]["templates"][0]["dag"]["tasks"] = [
            {"name": "transient", "template": "transient"}
        ]
        result = run(doc, tmp_path)
        assert self.attempts(result)["transient"] == (
            2,
            "Failed",
            "Error (exit code 3) (No more retries left)",
        )

    def test_expression_false(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """An expression that turns false stops retrying with Argo's message."""
        doc = load("options-retries.yaml")
        doc["spec"]["templates"][0]["dag"]["tasks"] = [
            {"name": "always-failed", "template": "always-failed"}
        ]
        template(doc, "always-failed")["retryStrategy"]["expression"] = (
            "asInt(lastRetry.exitCode) != 1"
        )
        result = run(doc, tmp_path)
        assert self.attempts(result)["always-failed"] == (
            1,
            "Failed",
            "Error (exit code 1) (retryStrategy.expression evaluated to false)",
        )


class TestIgnoredFields:
    def test_accepted_and_said_once(self, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
        """Cluster-only fields never refuse a run; one note names them all."""
        from flowdsl.local import progress

        stream = io.StringIO()
        original = progress.make_reporter
        clean_env.setattr(
            progress, "make_reporter", lambda choice, stream_=None: original("plain", stream)
        )
        result = run("options-ignored.yaml", tmp_path, progress="plain")
        assert result.status == "Succeeded", result.message
        notes = [line[9:] for line in stream.getvalue().splitlines() if "note: ignored" in line]
        assert notes == [
            "note: ignored locally (they only matter on a cluster): affinity, imagePullPolicy, "
            "metadata, nodeSelector, podGC, podPriorityClassName, priorityClassName, resources, "
            "serviceAccountName, synchronization, tolerations"
        ]


class TestDurationsAndExpressions:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("1s", 1.0),
            ("1h30m", 5400.0),
            ("250ms", 0.25),
            (".5s", 0.5),
            ("0", 0.0),
            ("-2m", -120.0),
        ],
    )
    def test_go_durations(self, text: str, seconds: float) -> None:
        """memoize.maxAge is read as Go's time.ParseDuration reads it."""
        assert parse_go_duration(text) == pytest.approx(seconds)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("1d", 'time: unknown unit "d" in duration "1d"'),
            ("10", 'time: missing unit in duration "10"'),
            ("", 'time: invalid duration ""'),
            ("soon", 'time: invalid duration "soon"'),
        ],
    )
    def test_go_duration_errors(self, text: str, message: str) -> None:
        """Go's own messages, which Argo puts after 'invalid maxAge: '."""
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            parse_go_duration(text)

    def test_sprig_digests(self) -> None:
        """sprig.sha256sum/sha1sum of a string built with + and toJson, as memoize keys use."""
        import hashlib

        env = {"inputs": {"parameters": {"x": "a"}}}
        assert (
            exprlang.evaluate("sprig.sha256sum(inputs.parameters.x + '|' + toJson([1, 'b']))", env)
            == hashlib.sha256(b'a|[1,"b"]').hexdigest()
        )
        assert exprlang.evaluate("sprig.sha1sum('abc')", {}) == hashlib.sha1(b"abc").hexdigest()
        assert exprlang.evaluate("sprig.b64dec(sprig.b64enc('hé'))", {}) == "hé"
        with pytest.raises(
            exprlang.ExprError, match=r"sprig\.sha256sum needs a string \(got int\)"
        ):
            exprlang.evaluate("sprig.sha256sum(1)", {})
