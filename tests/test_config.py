"""Tests of flowdsl.config: [tool.flowdsl] in pyproject.toml and --config files."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from flowdsl.config import ARGO_KEYS, ProjectConfig, find_pyproject, load_config, profile
from flowdsl.errors import OptionError
from flowdsl.options import (
    Backoff,
    Cache,
    ConfigMapKey,
    Resources,
    Retry,
    Secret,
    Toleration,
    Volume,
)

DOCS = Path(__file__).parent.parent / "docs" / "options.md"

FULL = """
[project]
name = "acme-ml"

[tool.flowdsl]
image = "ghcr.io/acme/ml:1.4"
image_pull_policy = "IfNotPresent"
service_account = "pipeline-runner"
timeout = "2h"
workflow_timeout = "12h"
pod_gc = "OnPodCompletion"
retries = { limit = 2, backoff = { duration = "30s", factor = 2 } }
resources = { cpu = "1", memory = "2Gi" }
node_selector = { pool = "batch" }
labels = { team = "ml" }
cache = true

[tool.flowdsl.env]
LOG_LEVEL = "info"
REGION = { config_map = "cluster-info", key = "region" }

[tool.flowdsl.secrets]
WAREHOUSE_PASSWORD = { secret = "warehouse-credentials", key = "password" }

[[tool.flowdsl.volumes]]
kind = "pvc"
claim = "shared-data"
mount_path = "/data"

[tool.flowdsl.profiles.standard]
resources = { cpu = "4", memory = "16Gi" }

[tool.flowdsl.profiles.gpu-large]
resources = { cpu = "8", memory = "64Gi", gpu = 2 }
node_selector = { "cloud.google.com/gke-accelerator" = "nvidia-tesla-a100" }
tolerations = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]
secrets = { HF_TOKEN = { secret = "huggingface", key = "token" } }

[tool.flowdsl.argo]
server = "argo.example.com:2746"
namespace = "ml"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory, made the current directory (messages name pyproject.toml)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(directory: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error(project: Path, text: str) -> OptionError:
    write(project, text)
    with pytest.raises(OptionError) as exc:
        load_config()
    return exc.value


class TestFullExample:
    def test_defaults(self, project: Path) -> None:
        """Every default is read into its option type."""
        write(project, FULL)
        config = load_config()
        assert config.path == project / "pyproject.toml"
        assert dict(config.defaults) == {
            "image": "ghcr.io/acme/ml:1.4",
            "image_pull_policy": "IfNotPresent",
            "service_account": "pipeline-runner",
            "timeout": 7200,
            "workflow_timeout": 43200,
            "pod_gc": "OnPodCompletion",
            "retries": Retry(2, backoff=Backoff("30s", 2)),
            "resources": Resources(cpu="1", memory="2Gi"),
            "node_selector": {"pool": "batch"},
            "labels": {"team": "ml"},
            "cache": Cache(),
            "env": {"LOG_LEVEL": "info", "REGION": ConfigMapKey("cluster-info", "region")},
            "secrets": {"WAREHOUSE_PASSWORD": Secret("warehouse-credentials", "password")},
            "volumes": (Volume.pvc("shared-data", "/data"),),
        }

    def test_profiles(self, project: Path) -> None:
        """Machine-type profiles hold task options; profile() returns them."""
        write(project, FULL)
        config = load_config()
        assert list(config.profiles) == ["standard", "gpu-large"]
        assert dict(profile(config, "standard")) == {"resources": Resources(cpu="4", memory="16Gi")}
        gpu = profile(config, "gpu-large")
        assert gpu["resources"].requests() == {
            "cpu": "8",
            "memory": "64Gi",
            "nvidia.com/gpu": "2",
        }
        assert gpu["tolerations"] == (Toleration("nvidia.com/gpu", "Exists", effect="NoSchedule"),)
        assert gpu["secrets"] == {"HF_TOKEN": Secret("huggingface", "token")}
        assert gpu["node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-a100"}

    def test_argo_table(self, project: Path) -> None:
        """The argo table is kept as written, for the client."""
        write(project, FULL)
        assert dict(load_config().argo) == {"server": "argo.example.com:2746", "namespace": "ml"}

    def test_read_only(self, project: Path) -> None:
        """The configuration cannot be changed once read."""
        write(project, FULL)
        config = load_config()
        with pytest.raises(TypeError):
            config.defaults["image"] = "other"  # type: ignore[index]
        with pytest.raises(TypeError):
            config.profiles["standard"]["image"] = "other"  # type: ignore[index]

    def test_retries_as_a_number(self, project: Path) -> None:
        """retries = 3 is Retry(3)."""
        write(project, "[tool.flowdsl]\nretries = 3\ncache = { max_age = '1d', version = '2' }\n")
        defaults = load_config().defaults
        assert defaults["retries"] == Retry(3)
        assert defaults["cache"] == Cache(max_age="24h", version="2")


class TestDocs:
    def test_every_toml_block_parses(self, project: Path) -> None:
        """Every TOML example in docs/options.md is a valid configuration."""
        blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
        assert len(blocks) >= 10
        for block in blocks:
            write(project, block)
            config = load_config()
            assert config.defaults or config.profiles, block

    def test_every_option_is_documented(self) -> None:
        """Each option has a row in the reference tables."""
        from flowdsl.options import OPTIONS

        text = DOCS.read_text(encoding="utf-8")
        for name in OPTIONS:
            assert f"| `{name}` |" in text, name

    def test_volume_example(self, project: Path) -> None:
        """The volume example reads into the five kinds of volume."""
        blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
        block = next(b for b in blocks if 'kind = "config_map"' in b)
        write(project, block)
        assert load_config().defaults["volumes"] == (
            Volume.pvc("shared-data", "/data", read_only=True),
            Volume.claim(
                "50Gi", "/work", name="work", access_mode="ReadWriteMany", storage_class="fast-ssd"
            ),
            Volume.empty_dir("/scratch", name="scratch", medium="Memory", size_limit="1Gi"),
            Volume.secret("tls-certs", "/etc/tls"),
            Volume.config_map("app-config", "/etc/app"),
        )


class TestDiscovery:
    def test_no_pyproject(self, tmp_path: Path) -> None:
        """No pyproject.toml anywhere above: an empty configuration."""
        assert find_pyproject(tmp_path) is None
        assert load_config(start=tmp_path) == ProjectConfig()

    def test_no_tool_flowdsl(self, project: Path) -> None:
        """A pyproject.toml without [tool.flowdsl]: an empty configuration."""
        write(project, "[project]\nname = 'x'\n\n[tool.ruff]\nline-length = 100\n")
        config = load_config()
        assert config == ProjectConfig()
        assert (config.path, dict(config.defaults), dict(config.profiles)) == (None, {}, {})

    def test_found_upward(self, project: Path) -> None:
        """The nearest pyproject.toml above the start directory is read."""
        write(project, "[tool.flowdsl]\nimage = 'img:1'\n")
        nested = project / "src" / "pkg"
        nested.mkdir(parents=True)
        assert load_config(start=nested).defaults == {"image": "img:1"}

    def test_nearest_wins(self, project: Path) -> None:
        """A nested project's pyproject.toml hides its parent's, even without the table."""
        write(project, "[tool.flowdsl]\nimage = 'img:1'\n")
        nested = project / "sub"
        nested.mkdir()
        write(nested, "[project]\nname = 'sub'\n")
        assert load_config(start=nested) == ProjectConfig()

    def test_current_directory_by_default(self, project: Path) -> None:
        """Without start, the search begins in the current directory."""
        write(project, "[tool.flowdsl]\nimage = 'img:2'\n")
        assert load_config().defaults["image"] == "img:2"


class TestConfigFile:
    def test_another_pyproject(self, project: Path) -> None:
        """--config FILE reads that file's [tool.flowdsl], ignoring the project's."""
        write(project, "[tool.flowdsl]\nimage = 'img:project'\n")
        other = write(project, "[tool.flowdsl]\nimage = 'img:prod'\n", name="prod.toml")
        config = load_config(other)
        assert (config.path, config.defaults["image"]) == (other, "img:prod")

    def test_standalone_file(self, project: Path) -> None:
        """A file without a [tool] table is the [tool.flowdsl] table itself."""
        other = write(
            project,
            """
            image = "img:prod"

            [profiles.big]
            resources = { memory = "32Gi" }
            """,
            name="flowdsl.toml",
        )
        config = load_config(str(other))
        assert config.defaults == {"image": "img:prod"}
        assert profile(config, "big") == {"resources": Resources(memory="32Gi")}

    def test_standalone_unknown_key_names_the_table(self, project: Path) -> None:
        """In a standalone file, tables are named from the top."""
        other = write(project, "[profiles.big]\nmemory = '1Gi'\n", name="flowdsl.toml")
        with pytest.raises(OptionError) as exc:
            load_config(other)
        assert str(exc.value).startswith("flowdsl.toml: [profiles.big] has an unknown key 'memory'")

    def test_standalone_top_level_unknown(self, project: Path) -> None:
        """The top level of a standalone file is named as such."""
        other = write(project, "imgae = 'x'\n", name="flowdsl.toml")
        with pytest.raises(OptionError) as exc:
            load_config(other)
        assert exc.value.problem == "the top level has an unknown key 'imgae'"
        assert exc.value.fix is not None
        assert exc.value.fix.startswith("did you mean 'image'? valid keys: image, ")

    def test_tool_without_flowdsl(self, project: Path) -> None:
        """A --config file with a [tool] table must hold [tool.flowdsl]."""
        other = write(project, "[tool.ruff]\nline-length = 100\n", name="other.toml")
        with pytest.raises(OptionError) as exc:
            load_config(other)
        assert str(exc.value) == (
            "other.toml: the configuration file has a [tool] table but no [tool.flowdsl] "
            "table; put the settings under [tool.flowdsl], or drop the [tool] table and write "
            "them at the top level"
        )

    def test_missing_file(self, project: Path) -> None:
        """A --config file that does not exist is an error naming it."""
        with pytest.raises(OptionError) as exc:
            load_config("nope.toml")
        assert str(exc.value) == (
            "nope.toml: cannot read the configuration file: No such file or directory; "
            "check the path given to --config"
        )

    def test_invalid_toml(self, project: Path) -> None:
        """A file that is not TOML is an error naming it."""
        write(project, "[tool.flowdsl\nimage = 1\n")
        with pytest.raises(OptionError) as exc:
            load_config()
        assert exc.value.location == "pyproject.toml"
        assert exc.value.problem.startswith("the configuration file is not valid TOML: ")


class TestUnknownKeys:
    def test_top_level(self, project: Path) -> None:
        """An unknown key in [tool.flowdsl] names the nearest option."""
        err = error(project, "[tool.flowdsl]\nimage_pull_polcy = 'Always'\n")
        assert err.location == "pyproject.toml"
        assert err.problem == "[tool.flowdsl] has an unknown key 'image_pull_polcy'"
        assert err.fix is not None
        assert err.fix.startswith("did you mean 'image_pull_policy'? valid keys: image, ")
        assert err.fix.endswith(", profiles, argo")

    def test_profile_level(self, project: Path) -> None:
        """An unknown key in a profile names the profile's table."""
        err = error(project, "[tool.flowdsl.profiles.gpu-large]\nretires = 3\n")
        assert err.problem == "[tool.flowdsl.profiles.gpu-large] has an unknown key 'retires'"
        assert err.fix is not None
        assert err.fix.startswith("did you mean 'retries'? valid keys: image, ")

    def test_resource_field_in_a_profile(self, project: Path) -> None:
        """A resources field written directly in a profile points into resources."""
        err = error(project, "[tool.flowdsl.profiles.gpu-large]\nmemroy = '64Gi'\n")
        assert err.problem == "[tool.flowdsl.profiles.gpu-large] has an unknown key 'memroy'"
        assert err.fix is not None
        assert err.fix.startswith(
            "did you mean 'memory'? it belongs in the resources table: write "
            "resources = { memory = ... }; valid keys: image, "
        )

    def test_flow_option_in_a_profile(self, project: Path) -> None:
        """A profile cannot set a flow option."""
        err = error(project, "[tool.flowdsl.profiles.big]\npod_gc = 'OnPodSuccess'\n")
        assert err.problem == "[tool.flowdsl.profiles.big] has an unknown key 'pod_gc'"
        assert err.fix is not None
        assert err.fix.startswith("'pod_gc' is a flow option, which a profile cannot set; ")

    def test_resources(self, project: Path) -> None:
        """An unknown key in resources names the nearest field, verbatim."""
        err = error(
            project,
            "[tool.flowdsl.profiles.gpu-large]\nresources = { cpu = '8', memroy = '64Gi' }\n",
        )
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.profiles.gpu-large.resources] has an unknown key "
            "'memroy'; did you mean 'memory'? valid keys: cpu, memory, ephemeral_storage, "
            "cpu_limit, memory_limit, ephemeral_storage_limit, gpu, gpu_vendor"
        )

    def test_resources_header_form(self, project: Path) -> None:
        """A [tool.flowdsl.resources] header is named the same way."""
        err = error(project, "[tool.flowdsl.resources]\ncpus = '2'\n")
        assert err.problem == "[tool.flowdsl.resources] has an unknown key 'cpus'"

    def test_toleration(self, project: Path) -> None:
        """A toleration's table is named with its index."""
        err = error(
            project,
            """
            [[tool.flowdsl.tolerations]]
            key = "a"
            operator = "Exists"

            [[tool.flowdsl.tolerations]]
            key = "b"
            efect = "NoSchedule"
            """,
        )
        assert err.problem == "[tool.flowdsl.tolerations[1]] has an unknown key 'efect'"
        assert err.fix == "did you mean 'effect'? valid keys: key, operator, value, effect, seconds"

    def test_retries_and_backoff(self, project: Path) -> None:
        """Retry and backoff tables check their keys."""
        err = error(project, "[tool.flowdsl]\nretries = { limit = 1, polciy = 'OnError' }\n")
        assert err.problem == "[tool.flowdsl.retries] has an unknown key 'polciy'"
        assert err.fix == "did you mean 'policy'? valid keys: limit, policy, backoff"
        err = error(
            project, "[tool.flowdsl]\nretries = { limit = 1, backoff = { duraton = '5s' } }\n"
        )
        assert err.problem == "[tool.flowdsl.retries.backoff] has an unknown key 'duraton'"

    def test_retries_without_limit(self, project: Path) -> None:
        """A retries table needs a limit."""
        err = error(project, "[tool.flowdsl]\nretries = { policy = 'OnError' }\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.retries] has no limit; "
            "write e.g. retries = { limit = 3 }"
        )

    def test_cache(self, project: Path) -> None:
        """A cache table checks its keys."""
        err = error(project, "[tool.flowdsl]\ncache = { maxAge = '1d' }\n")
        assert err.problem == "[tool.flowdsl.cache] has an unknown key 'maxAge'"
        assert err.fix == "did you mean 'max_age'? valid keys: max_age, version, config_map"

    def test_secret_reference(self, project: Path) -> None:
        """A secret reference table takes secret and key only."""
        err = error(
            project,
            "[tool.flowdsl.secrets]\n"
            "TOKEN = { secret = 'creds', key = 'token', optional = true }\n",
        )
        assert err.problem == "[tool.flowdsl.secrets.TOKEN] has an unknown key 'optional'"
        assert err.fix == "valid keys: secret, key"

    def test_volume(self, project: Path) -> None:
        """A volume table takes its kind's keys only."""
        err = error(
            project,
            """
            [[tool.flowdsl.volumes]]
            kind = "pvc"
            claim = "data"
            mount_path = "/data"
            size = "10Gi"
            """,
        )
        assert err.problem == "[tool.flowdsl.volumes[0]] has an unknown key 'size'"
        assert err.fix == "valid keys: kind, claim, mount_path, name, read_only"

    def test_volume_kind(self, project: Path) -> None:
        """An unknown volume kind names the nearest."""
        err = error(project, "[[tool.flowdsl.volumes]]\nkind = 'emptyDir'\nmount_path = '/s'\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.volumes[0]] has kind 'emptyDir' (expected one of "
            "pvc, claim, empty_dir, secret, config_map); did you mean 'empty_dir'? write e.g. "
            '{ kind = "pvc", claim = "data", mount_path = "/data" }'
        )

    def test_volume_missing_keys(self, project: Path) -> None:
        """A volume without its required keys says which."""
        err = error(project, "[[tool.flowdsl.volumes]]\nkind = 'claim'\nmount_path = '/w'\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.volumes[0]] (a claim volume) has no size or name; "
            "write size = ..., name = ..."
        )

    def test_argo(self, project: Path) -> None:
        """The argo table has the client's keys."""
        err = error(project, "[tool.flowdsl.argo]\nserver = 'a:1'\nnamespce = 'ml'\n")
        assert err.problem == "[tool.flowdsl.argo] has an unknown key 'namespce'"
        assert err.fix == f"did you mean 'namespace'? valid keys: {', '.join(ARGO_KEYS)}"

    def test_argo_token(self, project: Path) -> None:
        """A token in the committed file is refused."""
        err = error(project, "[tool.flowdsl.argo]\ntoken = 'Bearer abc'\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.argo] holds a token; pyproject.toml is committed, so "
            "a token there leaks; remove it and set ARGO_TOKEN or pass --token-file instead"
        )

    def test_argo_keys_match_the_client(self) -> None:
        """The argo keys are the ones flowdsl.client.config reads."""
        from flowdsl.client.config import PROJECT_KEYS

        assert ARGO_KEYS == PROJECT_KEYS

    def test_profiles_not_a_table(self, project: Path) -> None:
        """profiles must be a table of tables."""
        err = error(project, "[tool.flowdsl]\nprofiles = 'gpu'\n")
        assert err.problem == ("[tool.flowdsl.profiles] must be a table (got 'gpu' of type str)")
        err = error(project, "[tool.flowdsl.profiles]\ngpu = 1\n")
        assert err.problem == "[tool.flowdsl.profiles.gpu] must be a table (got 1 of type int)"

    def test_quoted_profile_name(self, project: Path) -> None:
        """A profile name that is not a bare key is quoted in messages."""
        err = error(project, '[tool.flowdsl.profiles."gpu.large"]\ncpu = "1"\n')
        assert err.problem == ("[tool.flowdsl.profiles.\"gpu.large\"] has an unknown key 'cpu'")


class TestBadValues:
    def test_option_error_names_the_table(self, project: Path) -> None:
        """A bad value carries the option's own message after the table."""
        err = error(project, "[tool.flowdsl.profiles.gpu-large]\nresources = { memory = '64GB' }\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.profiles.gpu-large.resources] option 'memory': "
            "'64GB' is not a Kubernetes quantity; write '64Gi' (binary, 64 x 1024^3 bytes) or "
            "'64G' (decimal)"
        )

    def test_gpu(self, project: Path) -> None:
        """A GPU count that is not a positive integer."""
        err = error(project, "[tool.flowdsl.profiles.gpu-large]\nresources = { gpu = 0 }\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.profiles.gpu-large.resources] option 'gpu' must be a "
            "positive whole number of GPUs (got 0 of type int); write e.g. gpu=1 (GPUs are not "
            "shared between pods, so no fractions)"
        )

    def test_plain_secret(self, project: Path) -> None:
        """A secret given as a plain string is refused without echoing it."""
        err = error(project, "[tool.flowdsl.secrets]\nDEPLOY_TOKEN = 'hunter2'\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl] option 'secrets': 'DEPLOY_TOKEN' is given a plain "
            "string of 7 characters (a secret must not be written into the manifest); write "
            "Secret('deploy-credentials', 'token'): the name and key of a Kubernetes Secret"
        )
        assert "hunter2" not in str(err)

    def test_env_reference_without_source(self, project: Path) -> None:
        """An env table must say secret or config_map."""
        err = error(project, "[tool.flowdsl.env]\nREGION = { name = 'info', key = 'region' }\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.env.REGION] names no secret or config_map; write "
            "REGION = { secret = 'deploy-credentials', key = 'token' }"
        )

    def test_env_reference_without_key(self, project: Path) -> None:
        """A secret reference needs its key."""
        err = error(project, "[tool.flowdsl.env]\nTOKEN = { secret = 'creds' }\n")
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.env.TOKEN] names no key; write "
            "TOKEN = { secret = 'creds', key = '...' }"
        )

    def test_toleration_operator(self, project: Path) -> None:
        """An unknown toleration operator names the nearest, with the table."""
        err = error(
            project,
            "[tool.flowdsl]\ntolerations = [{ key = 'gpu', operator = 'Equals', value = 'x' }]\n",
        )
        assert str(err) == (
            "pyproject.toml: [tool.flowdsl.tolerations[0]] toleration operator 'Equals' is not "
            "one of Equal, Exists; did you mean 'Equal'? write one of Equal, Exists"
        )

    def test_duplicate_mounts(self, project: Path) -> None:
        """Two volumes at one path clash."""
        err = error(
            project,
            """
            [tool.flowdsl]
            volumes = [
                { kind = "pvc", claim = "a", mount_path = "/data" },
                { kind = "empty_dir", name = "b", mount_path = "/data" },
            ]
            """,
        )
        assert err.problem == (
            "[tool.flowdsl] option 'volumes': volumes 'a' and 'b' are both mounted at '/data'"
        )

    def test_timeout(self, project: Path) -> None:
        """A bad duration keeps the tracer's message."""
        err = error(project, "[tool.flowdsl]\ntimeout = '2 hours'\n")
        assert err.problem == (
            "[tool.flowdsl] option 'timeout' is not a duration: '2 hours' (expected a number "
            "followed by a unit of ms, s, m, h or d, e.g. '1h30m')"
        )

    def test_pod_gc(self, project: Path) -> None:
        """An unknown pod GC strategy names the nearest."""
        err = error(project, "[tool.flowdsl]\npod_gc = 'OnPodCompleted'\n")
        assert err.fix is not None
        assert err.fix.startswith("did you mean 'OnPodCompletion'? ")

    def test_wrong_table_type(self, project: Path) -> None:
        """resources must be a table."""
        err = error(project, "[tool.flowdsl]\nresources = '2'\n")
        assert err.problem == "[tool.flowdsl.resources] must be a table (got '2' of type str)"


class TestProfileLookup:
    def test_unknown_lists_nearest_first(self, project: Path) -> None:
        """An unknown profile lists the defined ones, nearest first."""
        write(project, FULL)
        with pytest.raises(OptionError) as exc:
            profile(load_config(), "gpu-larg")
        assert str(exc.value) == (
            "pyproject.toml: profile 'gpu-larg' is not defined (defined: gpu-large, standard); "
            "did you mean 'gpu-large'? use one of them or add [tool.flowdsl.profiles.gpu-larg]"
        )

    def test_nearest_first_order(self, project: Path) -> None:
        """The list is ordered by closeness."""
        write(project, FULL)
        with pytest.raises(OptionError) as exc:
            profile(load_config(), "standrd")
        assert exc.value.problem == (
            "profile 'standrd' is not defined (defined: standard, gpu-large)"
        )

    def test_none_defined(self) -> None:
        """Without any profile, the message says how to define one."""
        with pytest.raises(OptionError) as exc:
            profile(ProjectConfig(), "gpu-large")
        assert str(exc.value) == (
            "profile 'gpu-large' is not defined (no profiles are); add a "
            "[tool.flowdsl.profiles.gpu-large] table to pyproject.toml"
        )


PROD_FLOW = """
import os

from flowdsl import Schedule, flow, task


@task
def stage() -> str:
    return os.environ.get("STAGE", "unset")


@flow(schedule=Schedule("0 3 * * *"))
def staged() -> str:
    return stage()
"""


class TestConfigOnEveryCommand:
    """--config FILE works wherever a command compiles a flow (not only on `compile`)."""

    @pytest.fixture
    def staged(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        (project / "staged.py").write_text(PROD_FLOW)
        write(project, "[tool.flowdsl]\nimage = 'img:dev'\nenv = { STAGE = 'dev' }\n")
        write(project, "image = 'img:prod'\nenv = { STAGE = 'prod' }\n", name="prod.toml")
        monkeypatch.syspath_prepend(str(project))
        return project

    def cli(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        from flowdsl.cli import main

        with pytest.raises(SystemExit) as info:
            main(list(argv))
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    @pytest.mark.parametrize(
        "command",
        [
            ["compile"],
            ["submit", "--dry-run", "-o", "yaml"],
            ["register", "--dry-run"],
            ["schedule", "--dry-run"],
        ],
    )
    def test_the_manifest_uses_the_file(
        self, staged: Path, capsys: pytest.CaptureFixture[str], command: list[str]
    ) -> None:
        code, out, err = self.cli(capsys, command[0], "staged.py", *command[1:])
        assert code == 0, err
        assert "img:dev" in out
        code, out, err = self.cli(
            capsys, command[0], "staged.py", *command[1:], "--config", "prod.toml"
        )
        assert code == 0, err
        assert "img:prod" in out
        assert "img:dev" not in out

    def test_run_uses_the_file(self, staged: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A local run: the task sees the configuration's env."""
        runs = str(staged / "runs")
        code, out, err = self.cli(
            capsys, "run", "staged.py", "--progress", "off", "--runs-dir", runs
        )
        assert (code, out) == (0, "return: dev\n"), err
        code, out, err = self.cli(
            capsys,
            "run",
            "staged.py",
            "--config",
            "prod.toml",
            "--progress",
            "off",
            "--runs-dir",
            runs,
        )
        assert (code, out) == (0, "return: prod\n"), err

    def test_flowdsl_run_takes_the_file(self, staged: Path) -> None:
        import importlib

        import flowdsl

        module = importlib.import_module("staged")
        run = flowdsl.run(module.staged, progress="off", run_dir=staged / "r", config="prod.toml")
        assert run.result == "prod"

    def test_not_for_a_compiled_manifest(
        self, staged: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A manifest file is already compiled: --config is refused, saying what to do."""
        code, _, err = self.cli(capsys, "compile", "staged.py", "-o", "staged.yaml")
        assert code == 0, err
        code, _, err = self.cli(capsys, "run", "staged.yaml", "--config", "prod.toml")
        assert code != 0
        assert (
            "--config prod.toml applies to a flow compiled by this command, but staged.yaml is "
            "a manifest compiled already; give the flow's file as TARGET, or compile the "
            "manifest again with python -m flowdsl compile --config FILE"
        ) in err
