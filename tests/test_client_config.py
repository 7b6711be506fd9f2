"""Connection settings: flags over ARGO_* variables over [tool.flowdsl.argo] over defaults."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from flowdsl.client.config import Connection, RetryPolicy, Timeouts, resolve_connection
from flowdsl.client.errors import ConnectionConfigError

TOKEN = "Bearer s3cr3t-token-value"


def resolve(tmp_path: Path, env: dict[str, str] | None = None, **flags: object) -> Connection:
    return resolve_connection(env=env or {}, project_dir=tmp_path, **flags)  # type: ignore[arg-type]


def project(tmp_path: Path, table: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.flowdsl.argo]\n{table}\n")


class TestServer:
    def test_host_port_is_https_by_default(self, tmp_path: Path) -> None:
        """ARGO_SERVER=host:port means https, like the argo CLI."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "argo.example:2746"})
        assert conn.url == "https://argo.example:2746/"
        assert conn.verify is True
        assert conn.sources["server"] == "ARGO_SERVER"

    @pytest.mark.parametrize("value", ["false", "False", "0", "no"])
    def test_argo_secure_false_means_http(self, tmp_path: Path, value: str) -> None:
        """ARGO_SECURE=false switches to plain http."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "localhost:2746", "ARGO_SECURE": value})
        assert conn.url == "http://localhost:2746/"

    def test_base_href_is_a_path_prefix(self, tmp_path: Path) -> None:
        """ARGO_BASE_HREF puts the API under a path, slashes normalised."""
        env = {"ARGO_SERVER": "example.com", "ARGO_BASE_HREF": "argo"}
        assert resolve(tmp_path, env).url == "https://example.com/argo/"
        env["ARGO_BASE_HREF"] = "/a/b/"
        assert resolve(tmp_path, env).url == "https://example.com/a/b/"

    def test_full_url_scheme_wins(self, tmp_path: Path) -> None:
        """A server written as a URL keeps its scheme."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "http://localhost:2746"})
        assert conn.url == "http://localhost:2746/"

    def test_skip_verify(self, tmp_path: Path) -> None:
        """ARGO_INSECURE_SKIP_VERIFY=true turns TLS verification off; it is on otherwise."""
        env = {"ARGO_SERVER": "h:1", "ARGO_INSECURE_SKIP_VERIFY": "true"}
        assert resolve(tmp_path, env).verify is False
        assert resolve(tmp_path, env, insecure_skip_verify=False).verify is True

    def test_flags_override_environment(self, tmp_path: Path) -> None:
        """--server, --namespace and --no-secure beat ARGO_SERVER, ARGO_NAMESPACE, ARGO_SECURE."""
        env = {"ARGO_SERVER": "env:1", "ARGO_NAMESPACE": "envns", "ARGO_SECURE": "true"}
        conn = resolve(tmp_path, env, server="flag:2", namespace="flagns", secure=False)
        assert (conn.url, conn.namespace) == ("http://flag:2/", "flagns")
        assert conn.sources["server"] == "--server"

    def test_no_server_is_an_error(self, tmp_path: Path) -> None:
        """Without a server anywhere, the message says the three ways to give one."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path)
        assert str(info.value) == (
            "no Argo Server is configured; set ARGO_SERVER=host:port (e.g. localhost:2746), "
            "pass --server, or add server = '...' under [tool.flowdsl.argo] in pyproject.toml"
        )

    @pytest.mark.parametrize(
        ("server", "message"),
        [
            (
                "ftp://h:1",
                "server 'ftp://h:1' from ARGO_SERVER has scheme 'ftp' (expected http or https); "
                "write host:port, e.g. localhost:2746",
            ),
            (
                "user@h:1",
                "server 'user@h:1' from ARGO_SERVER is not host:port; write host:port, e.g. "
                "localhost:2746",
            ),
        ],
    )
    def test_bad_server(self, tmp_path: Path, server: str, message: str) -> None:
        """A server that is not host:port is refused with what was wrong."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path, {"ARGO_SERVER": server})
        assert str(info.value) == message

    def test_bad_boolean(self, tmp_path: Path) -> None:
        """ARGO_SECURE must be a boolean."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_SECURE": "maybe"})
        assert (
            str(info.value)
            == "secure from ARGO_SECURE must be true or false (got 'maybe'); use true or false"
        )


class TestNamespace:
    def test_default_namespace(self, tmp_path: Path) -> None:
        """Without ARGO_NAMESPACE the namespace is 'default'."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "h:1"})
        assert conn.namespace == "default"
        assert conn.sources["namespace"] == "default"

    def test_environment(self, tmp_path: Path) -> None:
        """ARGO_NAMESPACE sets the namespace."""
        assert resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_NAMESPACE": "ml"}).namespace == "ml"


class TestToken:
    def test_token_is_sent_as_given(self, tmp_path: Path) -> None:
        """ARGO_TOKEN is kept as given, scheme included (no 'Bearer ' is added)."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_TOKEN": TOKEN})
        assert conn.token == TOKEN
        assert resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_TOKEN": "raw"}).token == "raw"

    def test_token_file_overrides_environment(self, tmp_path: Path) -> None:
        """--token-file wins over ARGO_TOKEN; surrounding whitespace is dropped."""
        path = tmp_path / "token"
        path.write_text(f"  {TOKEN}\n")
        env = {"ARGO_SERVER": "h:1", "ARGO_TOKEN": "Bearer other"}
        conn = resolve(tmp_path, env, token_file=str(path))
        assert conn.token == TOKEN
        assert conn.sources["token"] == "--token-file"

    def test_missing_token_file(self, tmp_path: Path) -> None:
        """An unreadable token file names the path and the flag."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path, {"ARGO_SERVER": "h:1"}, token_file=str(tmp_path / "nope"))
        assert re.fullmatch(
            r"cannot read the token file '.*/nope': No such file or directory; check the path "
            r"given to --token-file",
            str(info.value),
        )

    def test_empty_token_file(self, tmp_path: Path) -> None:
        """An empty token file is an error, not an anonymous request."""
        path = tmp_path / "token"
        path.write_text("\n")
        with pytest.raises(ConnectionConfigError, match="is empty"):
            resolve(tmp_path, {"ARGO_SERVER": "h:1"}, token_file=str(path))

    def test_multiline_token_is_refused_without_echo(self, tmp_path: Path) -> None:
        """A token with a line break is refused, and the message does not show it."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_TOKEN": "Bearer abc\ndef-secret"})
        assert "def-secret" not in str(info.value)
        assert str(info.value) == (
            "the token from ARGO_TOKEN holds a line break or NUL character; keep the token on "
            "one line"
        )

    def test_token_is_not_in_repr(self, tmp_path: Path) -> None:
        """repr() and str() of a connection never show the token."""
        conn = resolve(tmp_path, {"ARGO_SERVER": "h:1", "ARGO_TOKEN": TOKEN})
        assert "s3cr3t" not in repr(conn)
        assert "s3cr3t" not in str(conn)
        assert conn.has_token


class TestProject:
    def test_project_server_and_namespace(self, tmp_path: Path) -> None:
        """[tool.flowdsl.argo] can hold the server and namespace, found from a subdirectory."""
        project(tmp_path, 'server = "argo.internal:2746"\nnamespace = "ml"\nsecure = false')
        sub = tmp_path / "a" / "b"
        sub.mkdir(parents=True)
        conn = resolve(sub)
        assert (conn.url, conn.namespace) == ("http://argo.internal:2746/", "ml")
        assert conn.sources["server"] == str(tmp_path / "pyproject.toml")

    def test_environment_beats_project(self, tmp_path: Path) -> None:
        """ARGO_* variables override the project configuration."""
        project(tmp_path, 'server = "p:1"\nnamespace = "p"')
        conn = resolve(tmp_path, {"ARGO_SERVER": "e:2", "ARGO_NAMESPACE": "e"})
        assert (conn.url, conn.namespace) == ("https://e:2/", "e")

    def test_token_in_project_is_refused(self, tmp_path: Path) -> None:
        """A token in pyproject.toml is an error: the file is committed."""
        project(tmp_path, 'server = "p:1"\ntoken = "Bearer x"')
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path)
        assert str(info.value) == (
            f"{tmp_path / 'pyproject.toml'}: [tool.flowdsl.argo] holds a token; pyproject.toml "
            "is committed, so a token there leaks; remove it and set ARGO_TOKEN or pass "
            "--token-file instead"
        )

    def test_unknown_key(self, tmp_path: Path) -> None:
        """A misspelled key is reported with the closest known one."""
        project(tmp_path, 'sever = "p:1"')
        with pytest.raises(
            ConnectionConfigError, match=r"unknown key 'sever'.*did you mean 'server'\?"
        ):
            resolve(tmp_path)

    def test_tuning_keys(self, tmp_path: Path) -> None:
        """Timeouts and retries can be tuned in the project."""
        project(
            tmp_path,
            'server = "p:1"\nrequest-timeout = 5\nstream-timeout = 7.5\nretries = 1\n'
            "retry-backoff = 0.1",
        )
        conn = resolve(tmp_path)
        assert conn.timeouts == Timeouts(connect=10.0, read=5.0, stream=7.5)
        assert conn.retry == RetryPolicy(attempts=2, backoff=0.1, max_backoff=8.0)

    @pytest.mark.parametrize("table", ["retries = -1", 'retries = "3"', "request-timeout = 0"])
    def test_bad_tuning(self, tmp_path: Path, table: str) -> None:
        """Nonsense timeouts and retry counts are refused."""
        project(tmp_path, f'server = "p:1"\n{table}')
        with pytest.raises(ConnectionConfigError):
            resolve(tmp_path)


class TestRecords:
    def test_retry_delays_double_up_to_the_cap(self) -> None:
        """Backoff doubles from `backoff` and stops at `max_backoff`."""
        policy = RetryPolicy(attempts=6, backoff=0.5, max_backoff=3.0)
        assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]

    def test_ui_url(self) -> None:
        """The UI link of a workflow sits under the base URL."""
        conn = Connection("https://h:1/argo", namespace="ml")
        assert conn.url == "https://h:1/argo/"
        assert conn.ui_url("wf-abc") == "https://h:1/argo/workflows/ml/wf-abc"

    def test_errors_pickle(self, tmp_path: Path) -> None:
        """Client errors keep their message across pickling (the local engine's processes)."""
        with pytest.raises(ConnectionConfigError) as info:
            resolve(tmp_path)
        copy = pickle.loads(pickle.dumps(info.value))
        assert str(copy) == str(info.value)
