"""Tests of flowdsl.options: option values and their checks."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from flowdsl.errors import OptionError
from flowdsl.options import (
    DEFAULT_GPU_VENDOR,
    OPTIONS,
    Backoff,
    Cache,
    ConfigMapKey,
    Resources,
    Retry,
    Secret,
    Toleration,
    Volume,
    check_affinity,
    check_annotations,
    check_duration,
    check_env,
    check_labels,
    check_mounts,
    check_option,
    check_secrets,
    go_duration,
    quantity,
)


def message(exc: pytest.ExceptionInfo[OptionError]) -> str:
    return str(exc.value)


class TestQuantity:
    @pytest.mark.parametrize(
        ("value", "option", "expected"),
        [
            ("500m", "cpu", "500m"),
            ("2", "cpu", "2"),
            (" 2 ", "cpu", "2"),
            (2, "cpu", "2"),
            (0.5, "cpu", "0.5"),
            (1.0, "cpu", "1"),
            (1e-05, "cpu", "0.00001"),
            ("0", "cpu", "0"),
            (".5", "cpu", ".5"),
            ("1e3", "cpu", "1e3"),
            ("1E-3", "cpu", "1E-3"),
            ("8Gi", "memory", "8Gi"),
            ("128974848", "memory", "128974848"),
            ("129M", "memory", "129M"),
            ("123Mi", "memory", "123Mi"),
            ("1.5Gi", "memory", "1.5Gi"),
            ("1k", "memory", "1k"),
            ("1Ki", "memory", "1Ki"),
            ("1Ti", "ephemeral_storage", "1Ti"),
            ("2P", "memory", "2P"),
            ("1Ei", "memory", "1Ei"),
            ("500m", "cpu_limit", "500m"),
        ],
    )
    def test_valid(self, value: str | int | float, option: str, expected: str) -> None:
        """Kubernetes quantities pass and come back as their canonical text."""
        assert quantity(value, option=option) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2GB", "write '2Gi' (binary, 2 x 1024^3 bytes) or '2G' (decimal)"),
            ("2gb", "write '2Gi' (binary, 2 x 1024^3 bytes) or '2G' (decimal)"),
            ("2GiB", "write '2Gi' (binary, 2 x 1024^3 bytes) or '2G' (decimal)"),
            ("2g", "write '2Gi' (binary, 2 x 1024^3 bytes) or '2G' (decimal)"),
            ("512MB", "write '512Mi' (binary, 512 x 1024^2 bytes) or '512M' (decimal)"),
            ("1KB", "write '1Ki' (binary, 1 x 1024^1 bytes) or '1k' (decimal)"),
            ("1.5 TB", "write '1.5Ti' (binary, 1.5 x 1024^4 bytes) or '1.5T' (decimal)"),
        ],
    )
    def test_byte_units_show_the_kubernetes_form(self, value: str, expected: str) -> None:
        """A byte size in a unit Kubernetes does not know shows the binary and decimal forms."""
        with pytest.raises(OptionError) as exc:
            quantity(value, option="memory")
        assert (
            message(exc) == f"option 'memory': {value!r} is not a Kubernetes quantity; {expected}"
        )
        assert exc.value.problem == f"option 'memory': {value!r} is not a Kubernetes quantity"
        assert exc.value.fix == expected

    def test_milli_bytes(self) -> None:
        """'512m' of memory is valid for Kubernetes but means thousandths of a byte."""
        with pytest.raises(OptionError) as exc:
            quantity("512m", option="memory")
        assert message(exc) == (
            "option 'memory': '512m' means 512 thousandths of a byte ('m' is milli); "
            "write '512Mi' (binary, 512 x 1024^2 bytes) or '512M' (decimal)"
        )

    def test_milli_allowed_when_not_bytes(self) -> None:
        """``of_bytes=False`` accepts 'm' whatever the option's name."""
        assert quantity("512m", option="memory", of_bytes=False) == "512m"

    @pytest.mark.parametrize("value", ["2 cores", "two", "1.2.3", "5x", "Gi", ""])
    def test_not_a_quantity(self, value: str) -> None:
        """Other text lists the forms a quantity takes."""
        with pytest.raises(OptionError) as exc:
            quantity(value, option="cpu")
        assert message(exc) == (
            f"option 'cpu': {value!r} is not a Kubernetes quantity; write a number with an "
            "optional suffix: m k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary) or an "
            "exponent (1e3), e.g. '500m' or '2'"
        )

    def test_negative(self) -> None:
        """A negative quantity is refused."""
        with pytest.raises(OptionError) as exc:
            quantity("-1Gi", option="memory")
        assert message(exc) == (
            "option 'memory': '-1Gi' is negative; write a quantity such as '512Mi' or '8Gi'"
        )

    @pytest.mark.parametrize("value", [True, None, [1], float("nan"), float("inf")])
    def test_wrong_type(self, value: object) -> None:
        """Booleans, None, lists and non-finite floats are not quantities."""
        with pytest.raises(OptionError, match=r"^option 'cpu' must be a (finite|Kubernetes) "):
            quantity(value, option="cpu")  # type: ignore[arg-type]

    def test_wrong_type_message(self) -> None:
        """The message of a wrong type names the type and shows a valid form."""
        with pytest.raises(OptionError) as exc:
            quantity(True, option="cpu")
        assert message(exc) == (
            "option 'cpu' must be a Kubernetes quantity (got True of type bool); "
            "write e.g. cpu='500m'"
        )


class TestResources:
    def test_requests_and_limits(self) -> None:
        """Requests and limits use Kubernetes resource names; GPUs go to both."""
        res = Resources(
            cpu="2",
            memory="8Gi",
            ephemeral_storage="10Gi",
            cpu_limit="4",
            memory_limit="12Gi",
            ephemeral_storage_limit="20Gi",
            gpu=2,
        )
        assert res.requests() == {
            "cpu": "2",
            "memory": "8Gi",
            "ephemeral-storage": "10Gi",
            "nvidia.com/gpu": "2",
        }
        assert res.limits() == {
            "cpu": "4",
            "memory": "12Gi",
            "ephemeral-storage": "20Gi",
            "nvidia.com/gpu": "2",
        }

    def test_empty(self) -> None:
        """No field set: no requests, no limits."""
        assert Resources().requests() == {}
        assert Resources().limits() == {}
        assert Resources().gpu_vendor == DEFAULT_GPU_VENDOR == "nvidia.com/gpu"

    def test_gpu_vendor(self) -> None:
        """Another vendor's extended resource name is used for GPUs."""
        res = Resources(gpu=1, gpu_vendor="amd.com/gpu")
        assert res.requests() == {"amd.com/gpu": "1"}
        assert res.limits() == {"amd.com/gpu": "1"}

    def test_numbers_become_text(self) -> None:
        """Numbers are accepted and kept as quantity text."""
        res = Resources(cpu=2, cpu_limit=2.5)  # type: ignore[arg-type]
        assert (res.cpu, res.cpu_limit) == ("2", "2.5")

    @pytest.mark.parametrize("gpu", [True, 0, -1, 1.5, "1"])
    def test_gpu_must_be_positive_int(self, gpu: object) -> None:
        """A GPU count that is not a positive int is an error."""
        with pytest.raises(OptionError) as exc:
            Resources(gpu=gpu)  # type: ignore[arg-type]
        assert message(exc) == (
            f"option 'gpu' must be a positive whole number of GPUs (got {gpu!r} of type "
            f"{type(gpu).__name__}); write e.g. gpu=1 (GPUs are not shared between pods, so "
            "no fractions)"
        )

    def test_bad_quantity_names_the_field(self) -> None:
        """A bad quantity names the field it was given to."""
        with pytest.raises(OptionError) as exc:
            Resources(memory_limit="2GB")
        assert exc.value.problem == "option 'memory_limit': '2GB' is not a Kubernetes quantity"

    def test_request_above_limit(self) -> None:
        """A request above its limit is refused (Kubernetes would reject the pod)."""
        with pytest.raises(OptionError) as exc:
            Resources(memory="8Gi", memory_limit="4G")
        assert message(exc) == (
            "option 'memory' requests '8Gi', more than its limit memory_limit='4G' (Kubernetes "
            "rejects such a pod); raise memory_limit to at least '8Gi' or lower memory"
        )

    def test_request_equal_to_limit_in_other_units(self) -> None:
        """Quantities compare by value, not by text."""
        assert Resources(cpu="1", cpu_limit="1000m").cpu_limit == "1000m"
        assert Resources(memory="1Gi", memory_limit="1073741824").memory == "1Gi"

    def test_bad_vendor(self) -> None:
        """The GPU vendor must be an extended resource name."""
        with pytest.raises(OptionError) as exc:
            Resources(gpu=1, gpu_vendor="gpu")
        assert message(exc) == (
            "option 'gpu_vendor': 'gpu' is not an extended resource name (domain/name); "
            "write e.g. gpu_vendor='nvidia.com/gpu' or 'amd.com/gpu'"
        )

    def test_frozen(self) -> None:
        """Resources cannot be changed after they are built."""
        res = Resources(cpu="1")
        with pytest.raises(dataclasses.FrozenInstanceError):
            res.cpu = "2"  # type: ignore[misc]


class TestResourcesMerge:
    def test_field_wise(self) -> None:
        """A field set on top wins; a field left None comes from the base."""
        base = Resources(cpu="4", memory="16Gi", memory_limit="16Gi")
        top = Resources(cpu="8")
        assert top.merged_over(base) == Resources(cpu="8", memory="16Gi", memory_limit="16Gi")

    def test_over_none(self) -> None:
        """Merging over nothing gives the same resources."""
        top = Resources(cpu="1")
        assert top.merged_over(None) is top

    def test_gpu_and_vendor_travel_together(self) -> None:
        """The GPU count and vendor come from the same side."""
        base = Resources(gpu=2, gpu_vendor="amd.com/gpu")
        assert Resources(cpu="1").merged_over(base).requests() == {
            "cpu": "1",
            "amd.com/gpu": "2",
        }
        assert Resources(gpu=1).merged_over(base).requests() == {"nvidia.com/gpu": "1"}

    def test_merge_checks_the_result(self) -> None:
        """A request above the base's limit is found when merging."""
        with pytest.raises(OptionError, match=r"^option 'memory' requests '64Gi', more than"):
            Resources(memory="64Gi").merged_over(Resources(memory_limit="16Gi"))


class TestSecretAndConfigMapKey:
    def test_valid(self) -> None:
        """A Secret and a ConfigMapKey hold an object name and a key."""
        assert Secret("deploy-credentials", "token") == Secret(
            name="deploy-credentials", key="token"
        )
        assert ConfigMapKey("cluster.info", "region.name").key == "region.name"

    def test_bad_name(self) -> None:
        """An object name that is not DNS-1123 shows a valid spelling."""
        with pytest.raises(OptionError) as exc:
            Secret("Deploy_Credentials", "token")
        assert message(exc) == (
            "Secret name 'Deploy_Credentials' is not a valid Kubernetes object name (lowercase "
            "letters, digits, '-' and '.', starting and ending with a letter or digit, at most "
            "253 characters); write e.g. 'deploy-credentials'"
        )

    def test_empty_key(self) -> None:
        """A key must not be empty."""
        with pytest.raises(OptionError) as exc:
            Secret("deploy-credentials", "")
        assert message(exc) == (
            "Secret key must be a non-empty string (got ''); write the key inside the object, "
            "e.g. 'token'"
        )

    def test_bad_key(self) -> None:
        """A key holds letters, digits, '-', '_' and '.'."""
        with pytest.raises(OptionError) as exc:
            ConfigMapKey("cluster-info", "a/b")
        assert message(exc) == (
            "ConfigMap key 'a/b' is not a valid key (letters, digits, '-', '_' and '.', at most "
            "253 characters); write the key inside the object, e.g. 'region'"
        )

    def test_name_not_a_string(self) -> None:
        """A name must be a string."""
        with pytest.raises(OptionError, match=r"^ConfigMap name must be a string \(got 3 of type"):
            ConfigMapKey(3, "k")  # type: ignore[arg-type]


class TestToleration:
    def test_valid(self) -> None:
        """The usual forms are accepted."""
        assert Toleration("nvidia.com/gpu", "Exists", effect="NoSchedule").value is None
        assert Toleration("dedicated", value="ml", effect="NoSchedule").operator == "Equal"
        assert Toleration(operator="Exists").key is None
        assert (
            Toleration(
                "node.kubernetes.io/unreachable", "Exists", effect="NoExecute", seconds=300
            ).seconds
            == 300
        )

    def test_unknown_operator(self) -> None:
        """An unknown operator lists the valid ones, nearest first."""
        with pytest.raises(OptionError) as exc:
            Toleration("dedicated", "equals", "ml")  # type: ignore[arg-type]
        assert message(exc) == (
            "toleration operator 'equals' is not one of Equal, Exists; did you mean 'Equal'? "
            "write one of Equal, Exists"
        )

    def test_unknown_effect(self) -> None:
        """An unknown effect lists the valid ones, nearest first."""
        with pytest.raises(OptionError) as exc:
            Toleration("dedicated", "Exists", effect="NoSchedul")  # type: ignore[arg-type]
        assert message(exc) == (
            "toleration effect 'NoSchedul' is not one of NoSchedule, PreferNoSchedule, "
            "NoExecute; did you mean 'NoSchedule'? write one of NoSchedule, PreferNoSchedule, "
            "NoExecute"
        )

    def test_unknown_effect_far_from_all(self) -> None:
        """With nothing close, only the list is shown."""
        with pytest.raises(OptionError) as exc:
            Toleration("dedicated", "Exists", effect="Zzz")  # type: ignore[arg-type]
        assert exc.value.fix == "write one of NoSchedule, PreferNoSchedule, NoExecute"

    def test_exists_takes_no_value(self) -> None:
        """Exists matches any value, so a value is a mistake."""
        with pytest.raises(OptionError) as exc:
            Toleration("dedicated", "Exists", "ml")
        assert message(exc) == (
            "a toleration with operator 'Exists' matches any value, so it takes no value (got "
            "'ml'); drop value=..., or use operator='Equal'"
        )

    def test_no_key_needs_exists(self) -> None:
        """Without a key, only Exists makes sense."""
        with pytest.raises(OptionError) as exc:
            Toleration()
        assert message(exc) == (
            "a toleration without a key must use operator 'Exists' (it matches every taint); "
            "write Toleration(operator='Exists') or give the taint's key"
        )

    def test_seconds_only_with_no_execute(self) -> None:
        """tolerationSeconds applies to NoExecute only."""
        with pytest.raises(OptionError) as exc:
            Toleration("dedicated", "Exists", effect="NoSchedule", seconds=60)
        assert message(exc) == (
            "toleration seconds apply only to effect 'NoExecute' (got effect 'NoSchedule'); "
            "write effect='NoExecute', or drop seconds=..."
        )

    def test_seconds_must_be_int(self) -> None:
        """tolerationSeconds is a whole number."""
        with pytest.raises(OptionError, match=r"^toleration seconds must be a whole number"):
            Toleration("d", "Exists", effect="NoExecute", seconds=1.5)  # type: ignore[arg-type]

    def test_bad_key(self) -> None:
        """The key follows Kubernetes' key syntax."""
        with pytest.raises(OptionError, match=r"^toleration key 'a b' is not a valid Kubernetes"):
            Toleration("a b", "Exists")


class TestDurations:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            ("2h", 7200),
            ("1h30m", 5400),
            ("90s", 90),
            ("1d", 86400),
            (45, 45),
            (60.0, 60),
            (" 5m ", 300),
            ("1500ms", None),
        ],
    )
    def test_check_duration(self, value: object, seconds: int | None) -> None:
        """Readable durations become seconds; a fraction of a second is refused."""
        if seconds is None:
            with pytest.raises(OptionError, match="whole number of seconds"):
                check_duration(value, option="timeout")
        else:
            assert check_duration(value, option="timeout") == seconds

    def test_messages_match_the_tracer(self) -> None:
        """The messages are those dsl.parse_duration gives (this is now the one parser)."""
        with pytest.raises(OptionError) as exc:
            check_duration("2 hours", option="timeout")
        assert message(exc) == (
            "option 'timeout' is not a duration: '2 hours' (expected a number followed by a unit "
            "of ms, s, m, h or d, e.g. '1h30m'); write e.g. timeout=\"2h\""
        )
        with pytest.raises(OptionError) as exc:
            check_duration(True, option="timeout")
        assert message(exc) == (
            "option 'timeout' must be a duration (got True of type bool); write e.g. "
            'timeout="2h", "30m", "1h30m" or a number of seconds'
        )
        with pytest.raises(OptionError) as exc:
            check_duration(0, option="timeout")
        assert message(exc) == (
            "option 'timeout' must be a whole number of seconds, at least 1 (got 0); write e.g. "
            'timeout="30s"'
        )

    def test_where_fields(self) -> None:
        """The caller may pass where the option was given."""
        with pytest.raises(OptionError) as exc:
            check_duration("x", option="timeout", task="train", location="a.py:3")
        assert (exc.value.task, exc.value.location) == ("train", "a.py:3")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("10s", "10s"),
            ("90s", "1m30s"),
            ("1d", "24h"),
            ("1h30m", "1h30m"),
            ("10", "10s"),
            ("500ms", "500ms"),
            ("1.5s", "1s500ms"),
            ("2h0m", "2h"),
        ],
    )
    def test_go_duration(self, value: str, expected: str) -> None:
        """Durations for Go-parsed Argo fields come back in Go's form (no day unit)."""
        assert go_duration(value, option="duration") == expected

    @pytest.mark.parametrize("value", ["0s", "1us", "ten", "", "-5s"])
    def test_go_duration_invalid(self, value: str) -> None:
        """Zero, unknown units and text are refused."""
        with pytest.raises(OptionError, match=r"^option 'duration' (is not a|must be a positive)"):
            go_duration(value, option="duration")

    def test_go_duration_not_text(self) -> None:
        """Go durations are given as text."""
        with pytest.raises(OptionError) as exc:
            go_duration(10, option="duration")
        assert message(exc) == (
            "option 'duration' must be a duration string (got 10 of type int); write e.g. "
            'duration="10s", "1m30s" or "2h"'
        )


class TestRetry:
    def test_defaults(self) -> None:
        """A Retry retries on failure without backoff by default."""
        assert Retry(3) == Retry(limit=3, policy="OnFailure", backoff=None)

    def test_backoff(self) -> None:
        """A backoff keeps Go durations and an integer factor."""
        backoff = Backoff("1d", 3.0, "90s")  # type: ignore[arg-type]
        assert (backoff.duration, backoff.factor, backoff.max_duration) == ("24h", 3, "1m30s")
        assert Backoff() == Backoff(duration="10s", factor=2, max_duration=None)

    @pytest.mark.parametrize("limit", [-1, True, 1.5, "3"])
    def test_bad_limit(self, limit: object) -> None:
        """The limit is a whole number >= 0."""
        with pytest.raises(OptionError) as exc:
            Retry(limit)  # type: ignore[arg-type]
        assert message(exc) == (
            f"option 'retries' must be a whole number >= 0 (got {limit!r}); write e.g. "
            "retries=3 or Retry(limit=3)"
        )

    def test_bad_policy(self) -> None:
        """An unknown policy shows the nearest valid one."""
        with pytest.raises(OptionError) as exc:
            Retry(3, "OnFaillure")  # type: ignore[arg-type]
        assert message(exc) == (
            "retry policy 'OnFaillure' is not one of Always, OnFailure, OnError, "
            "OnTransientError; did you mean 'OnFailure'? write one of Always, OnFailure, "
            "OnError, OnTransientError"
        )

    def test_bad_factor(self) -> None:
        """Argo's backoff factor is an integer."""
        with pytest.raises(OptionError) as exc:
            Backoff(factor=1.5)  # type: ignore[arg-type]
        assert message(exc) == (
            "option 'factor' must be a whole number >= 1 (got 1.5); Argo reads the backoff "
            "factor as an integer; write e.g. factor=2"
        )

    def test_bad_backoff_duration(self) -> None:
        """A backoff duration must parse."""
        with pytest.raises(OptionError) as exc:
            Backoff("10 seconds")
        assert message(exc) == (
            "option 'duration' is not a duration: '10 seconds' (expected a number followed by a "
            "unit of ms, s, m, h or d, e.g. '1m30s'); write e.g. duration=\"10s\""
        )

    def test_backoff_type(self) -> None:
        """backoff= takes a Backoff."""
        with pytest.raises(OptionError, match=r"^retry backoff must be a Backoff \(got '10s'"):
            Retry(3, backoff="10s")  # type: ignore[arg-type]


class TestVolume:
    def test_pvc(self) -> None:
        """An existing claim; the volume name defaults to a label made from the claim."""
        volume = Volume.pvc("shared.data", "/data/", read_only=True)
        assert (volume.kind, volume.name, volume.mount_path, volume.source, volume.read_only) == (
            "pvc",
            "shared-data",
            "/data",
            "shared.data",
            True,
        )

    def test_claim(self) -> None:
        """A claim template with size, access mode and storage class."""
        volume = Volume.claim(
            "10Gi", "/work", name="work", access_mode="ReadWriteMany", storage_class="fast-ssd"
        )
        assert (volume.size, volume.access_mode, volume.storage_class) == (
            "10Gi",
            "ReadWriteMany",
            "fast-ssd",
        )

    def test_empty_dir(self) -> None:
        """Scratch space, optionally in memory and limited."""
        volume = Volume.empty_dir("/scratch", name="scratch", medium="Memory", size_limit="1Gi")
        assert (volume.medium, volume.size_limit) == ("Memory", "1Gi")

    def test_secret_and_config_map(self) -> None:
        """Secret and ConfigMap volumes default their names to the object's."""
        assert Volume.secret("tls-certs", "/etc/tls").name == "tls-certs"
        assert Volume.config_map("app-config", "/etc/app", name="cfg").source == "app-config"

    def test_claim_size_checked(self) -> None:
        """The claim size is a quantity in bytes."""
        with pytest.raises(OptionError) as exc:
            Volume.claim("10GB", "/work", name="work")
        assert message(exc) == (
            "option 'size': '10GB' is not a Kubernetes quantity; write '10Gi' (binary, 10 x "
            "1024^3 bytes) or '10G' (decimal)"
        )

    @pytest.mark.parametrize("path", ["data", "/", "/a/../b", "C:/data", 3])
    def test_mount_path(self, path: object) -> None:
        """Mount paths are absolute, below '/', without '..'."""
        with pytest.raises(OptionError, match=r"^volume mount path .*must be an absolute path"):
            Volume.pvc("data", path)  # type: ignore[arg-type]

    def test_mount_path_message(self) -> None:
        """A relative path shows an absolute one."""
        with pytest.raises(OptionError) as exc:
            Volume.empty_dir("tmp", name="tmp")
        assert message(exc) == (
            "volume mount path must be an absolute path (got 'tmp'); write e.g. '/data'"
        )

    def test_name(self) -> None:
        """The volume name is a DNS-1123 label."""
        with pytest.raises(OptionError) as exc:
            Volume.empty_dir("/tmp", name="Scratch_Space")
        assert message(exc) == (
            "volume name 'Scratch_Space' is not a DNS-1123 label (lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 63 characters); write e.g. "
            "'scratch-space'"
        )

    def test_access_mode(self) -> None:
        """An unknown access mode shows the nearest."""
        with pytest.raises(OptionError) as exc:
            Volume.claim("1Gi", "/w", name="w", access_mode="ReadWriteOnly")  # type: ignore[arg-type]
        assert exc.value.fix == (
            "did you mean 'ReadWriteOnce'? write one of ReadWriteOnce, ReadOnlyMany, "
            "ReadWriteMany, ReadWriteOncePod"
        )

    def test_medium(self) -> None:
        """emptyDir media are Memory or HugePages."""
        with pytest.raises(OptionError, match=r"^emptyDir medium 'memory' is not one of"):
            Volume.empty_dir("/s", name="s", medium="memory")

    def test_fields_of_another_kind(self) -> None:
        """Built directly, a volume refuses the fields of other kinds."""
        with pytest.raises(OptionError) as exc:
            Volume("empty_dir", "s", "/s", size="1Gi")
        assert message(exc) == (
            "a empty_dir volume takes no size (got '1Gi'); build it with Volume.empty_dir(...)"
        )

    def test_unknown_kind(self) -> None:
        """The kind is one of the five."""
        with pytest.raises(OptionError, match=r"^volume kind 'hostPath' is not one of pvc, claim"):
            Volume("hostPath", "h", "/h")  # type: ignore[arg-type]


class TestMounts:
    def test_distinct(self) -> None:
        """Distinct names and paths pass."""
        check_mounts([Volume.pvc("data", "/data"), Volume.empty_dir("/data/tmp", name="tmp")])

    def test_duplicate_path(self) -> None:
        """Two volumes at one path clash, whatever the trailing slash."""
        with pytest.raises(OptionError) as exc:
            check_mounts([Volume.pvc("data", "/data"), Volume.empty_dir("/data/", name="tmp")])
        assert message(exc) == (
            "option 'volumes': volumes 'data' and 'tmp' are both mounted at '/data'; give each "
            "volume its own mount path"
        )

    def test_duplicate_name(self) -> None:
        """Two volumes of one name clash."""
        with pytest.raises(OptionError) as exc:
            check_mounts([Volume.pvc("data", "/a"), Volume.empty_dir("/b", name="data")])
        assert message(exc) == (
            "option 'volumes': two volumes are named 'data' (mounted at '/a' and '/b'); give "
            "each volume its own name=..."
        )

    def test_not_a_volume(self) -> None:
        """Only Volume values are accepted."""
        with pytest.raises(OptionError, match=r"^option 'volumes' holds '/data' of type str"):
            check_mounts(["/data"])  # type: ignore[list-item]


class TestCache:
    def test_defaults(self) -> None:
        """Cache() never expires, is version '1', and leaves the ConfigMap name to flowdsl."""
        assert Cache() == Cache(max_age=None, version="1", config_map=None)

    def test_max_age_in_go_form(self) -> None:
        """Argo parses maxAge with Go, which has no day unit."""
        assert Cache(max_age="1d").max_age == "24h"
        assert Cache(max_age="12h").max_age == "12h"

    def test_bad_max_age(self) -> None:
        """maxAge must be a duration."""
        with pytest.raises(OptionError, match=r"^option 'max_age' is not a duration: '1 day'"):
            Cache(max_age="1 day")

    def test_bad_version(self) -> None:
        """The version is non-empty text."""
        with pytest.raises(OptionError) as exc:
            Cache(version=2)  # type: ignore[arg-type]
        assert message(exc) == (
            "cache version must be a non-empty string (got 2); write e.g. version='2'"
        )

    def test_bad_config_map(self) -> None:
        """The ConfigMap name is checked."""
        with pytest.raises(OptionError, match=r"^cache ConfigMap name 'My Cache' is not a valid"):
            Cache(config_map="My Cache")


class TestEnv:
    def test_valid(self) -> None:
        """Text, Secret and ConfigMapKey values are accepted, secret-sounding names too."""
        env = {
            "LOG_LEVEL": "debug",
            "API_KEY": "not-really-secret",
            "TOKEN": Secret("t", "token"),
            "_REGION": ConfigMapKey("info", "region"),
        }
        assert check_env(env) == env

    def test_bad_name(self) -> None:
        """Names are C identifiers."""
        with pytest.raises(OptionError) as exc:
            check_env({"log-level": "debug"})
        assert message(exc) == (
            "option 'env': 'log-level' is not a valid environment variable name (letters, "
            "digits and '_', not starting with a digit); write e.g. 'LOG_LEVEL'"
        )

    def test_bad_value(self) -> None:
        """Other values show their text form."""
        with pytest.raises(OptionError) as exc:
            check_env({"WORKERS": 4})
        assert message(exc) == (
            "option 'env': 'WORKERS' must be a string, Secret or ConfigMapKey (got 4 of type "
            "int); write 'WORKERS': '4'"
        )

    def test_not_a_mapping(self) -> None:
        """env is a mapping."""
        with pytest.raises(OptionError, match=r"^option 'env' must be a mapping \(got \['A'\]"):
            check_env(["A"])  # type: ignore[arg-type]


class TestSecrets:
    def test_valid(self) -> None:
        """Secret values are accepted."""
        secrets = {"DEPLOY_TOKEN": Secret("deploy-credentials", "token")}
        assert check_secrets(secrets) == secrets

    def test_plain_string_is_refused_without_echo(self) -> None:
        """A plain string is refused, showing its length but never its text."""
        with pytest.raises(OptionError) as exc:
            check_secrets({"DEPLOY_TOKEN": "s3cr3t-value"})
        assert message(exc) == (
            "option 'secrets': 'DEPLOY_TOKEN' is given a plain string of 12 characters (a secret "
            "must not be written into the manifest); write Secret('deploy-credentials', "
            "'token'): the name and key of a Kubernetes Secret"
        )
        assert "s3cr3t" not in message(exc)

    def test_config_map_key_is_refused(self) -> None:
        """A ConfigMapKey is not a secret."""
        with pytest.raises(OptionError) as exc:
            check_secrets({"TOKEN": ConfigMapKey("info", "token")})
        assert exc.value.problem == (
            "option 'secrets': 'TOKEN' must be a Secret (got a value of type ConfigMapKey)"
        )


class TestLabels:
    def test_valid(self) -> None:
        """Prefixed keys, empty values and dotted values are fine."""
        labels = {"team": "ml", "example.com/tier": "", "app.kubernetes.io/version": "1.4.0"}
        assert check_labels(labels, option="labels") == labels

    def test_bad_value(self) -> None:
        """Values follow the label syntax; the fix shows a valid one."""
        with pytest.raises(OptionError) as exc:
            check_labels({"team": "ml ops"}, option="labels")
        assert message(exc) == (
            "option 'labels': the value 'ml ops' of 'team' is not a valid label value (at most "
            "63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit); "
            "write e.g. 'team': 'ml-ops'"
        )

    def test_long_value(self) -> None:
        """Values are at most 63 characters."""
        with pytest.raises(OptionError, match="is not a valid label value"):
            check_labels({"a": "x" * 64}, option="node_selector")

    def test_value_type(self) -> None:
        """A non-text value shows its text form."""
        with pytest.raises(OptionError) as exc:
            check_labels({"gpu": True}, option="node_selector")
        assert message(exc) == (
            "option 'node_selector': the value of 'gpu' must be a string (got True of type "
            "bool); write 'gpu': 'true'"
        )

    @pytest.mark.parametrize("key", ["Bad Key", "-x", "a/b/c", "UPPER.example/x", "x" * 64, ""])
    def test_bad_key(self, key: str) -> None:
        """Keys follow Kubernetes' [prefix/]name syntax."""
        with pytest.raises(OptionError) as exc:
            check_labels({key: "v"}, option="labels")
        assert message(exc) == (
            f"option 'labels': key {key!r} is not a valid Kubernetes key (an optional DNS "
            "prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit); write e.g. 'team' or 'example.com/team'"
        )

    def test_annotations(self) -> None:
        """Annotations take any text as values, but label-style keys."""
        assert check_annotations({"note": "any text, even long: " + "x" * 100})["note"]
        with pytest.raises(OptionError, match=r"^option 'annotations': the value of 'n' must be"):
            check_annotations({"n": 1})

    def test_affinity(self) -> None:
        """An affinity is given in manifest form; unknown keys show the nearest."""
        affinity: dict[str, object] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}
        }
        assert check_affinity(affinity) == affinity
        with pytest.raises(OptionError) as exc:
            check_affinity({"node_affinity": {}})
        assert message(exc) == (
            "option 'affinity' has an unknown key 'node_affinity' (expected nodeAffinity, "
            "podAffinity, podAntiAffinity); did you mean 'nodeAffinity'? write the Kubernetes "
            "affinity in its manifest form"
        )


class TestCheckOption:
    def test_normalised_forms(self) -> None:
        """Shorthands become their value classes."""
        assert check_option("retries", 3) == Retry(3)
        assert check_option("cache", True) == Cache()
        assert check_option("cache", False) is None
        assert check_option("timeout", "2h") == 7200
        assert check_option("workflow_timeout", "1d") == 86400
        assert check_option("tolerations", [Toleration(operator="Exists")]) == (
            Toleration(operator="Exists"),
        )
        assert check_option("volumes", Volume.pvc("d", "/d")) == (Volume.pvc("d", "/d"),)
        assert check_option("pod_gc", "OnPodSuccess") == "OnPodSuccess"
        assert check_option("image_pull_policy", "Always") == "Always"
        assert check_option("parallelism", 4) == 4

    def test_unknown_option(self) -> None:
        """An unknown option names the nearest."""
        with pytest.raises(OptionError) as exc:
            check_option("retry", 3)
        assert exc.value.problem == "unknown option 'retry'"
        assert exc.value.fix == f"did you mean 'retries'? valid options: {', '.join(OPTIONS)}"

    @pytest.mark.parametrize(
        ("name", "value", "pattern"),
        [
            ("image", "", r"^option 'image' must be a non-empty string"),
            ("image_pull_policy", "always", r"did you mean 'Always'\?"),
            ("resources", {"cpu": "1"}, r"^option 'resources' must be a Resources"),
            ("tolerations", ["x"], r"^option 'tolerations' must be a list of Toleration"),
            ("retries", -1, r"^option 'retries' must be a whole number >= 0 or a Retry"),
            ("parallelism", 0, r"^option 'parallelism' must be a whole number >= 1"),
            ("cache", "yes", r"^option 'cache' must be True, False or a Cache"),
            ("fail_fast", 1, r"^option 'fail_fast' must be True or False"),
            ("code", "pickle", r"^option 'code': 'pickle' is not one of auto, import, value"),
            ("service_account", "Bad_SA", r"^option 'service_account': 'Bad_SA' is not a valid"),
            ("priority_class", 1, r"^option 'priority_class': must be a string"),
        ],
    )
    def test_invalid(self, name: str, value: object, pattern: str) -> None:
        """Each option's checker refuses a wrong value."""
        with pytest.raises(OptionError, match=pattern):
            check_option(name, value)


class TestImports:
    def test_standard_library_only(self) -> None:
        """Importing flowdsl.options pulls in neither Hera nor pydantic nor YAML."""
        code = (
            "import sys, flowdsl.options\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('hera', 'pydantic', 'yaml', 'requests', 'tomllib', 'tomli')]\n"
            "print(bad)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"

    def test_messages_have_no_where(self) -> None:
        """Messages carry no location: the tracer adds the task, flow and place."""
        with pytest.raises(OptionError) as exc:
            Resources(memory="2GB")
        assert (exc.value.task, exc.value.flow, exc.value.location) == (None, None, None)
        assert re.match(r"^option 'memory'", str(exc.value))
