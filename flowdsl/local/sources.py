r"""Secret and ConfigMap values for a local run, read from the environment or a ``.env`` file.

On a cluster, a container's ``env`` entry with ``valueFrom.secretKeyRef {name, key}`` (or
``configMapKeyRef``) gets the value of key ``key`` of the Secret (ConfigMap) ``name``; so do
``envFrom`` and ``secret``/``configMap`` volumes, for whole objects. Locally there is no
cluster to hold them, so the values come from this machine.

Lookup of key ``KEY`` of Secret or ConfigMap ``NAME``, read by the container's variable
``VAR`` (first found wins):

1. the environment variable ``FLOWDSL_SECRET_<NAME>_<KEY>``;
2. the same name in the ``.env`` file of the current directory;
3. ``VAR`` itself in the environment (what the container sees, e.g. ``DEPLOY_TOKEN``);
4. ``VAR`` in ``.env``.

The specific name comes first so that a variable that merely happens to be set (``TOKEN``)
never shadows the value meant for this Secret; the environment wins over ``.env``, as with
every dotenv tool. ``NAME`` and ``KEY`` are upper-cased and every other character than
``A-Z`` and ``0-9`` becomes ``_``: key ``token`` of Secret ``deploy-credentials`` is
``FLOWDSL_SECRET_DEPLOY_CREDENTIALS_TOKEN``. Names are compared after that normalisation, so
a ``.env`` line may spell a key as it is (``FLOWDSL_SECRET_app-config_settings.json=...``).
ConfigMaps use the same ``FLOWDSL_SECRET_`` names (one convention to learn); their values
are not masked. Steps 3 and 4 apply to ``env`` entries only.

A whole object (``envFrom``, or a volume without ``items``) has the keys found under its
prefix ``FLOWDSL_SECRET_<NAME>_``: each key is the rest of the variable's name as written
(``.env`` may hold ``FLOWDSL_SECRET_GCP_key.json=...`` for a file ``key.json``). An object
whose name is a prefix of another's (``app`` and ``app-config``) sees the other's keys too:
list the keys under ``items`` for such a volume.

A value that cannot be found refuses the run before anything starts
(:class:`MissingValue`, turned into a :class:`flowdsl.errors.RunError`), even for a
template the run may not reach, unless the reference is ``optional: true``, which leaves
the variable unset as Kubernetes does. A reference whose name or key holds ``{{...}}`` is
looked up when its node runs, and a missing value errors that node.
``FLOWDSL_SECRET_*`` variables themselves are not passed to the processes: a pod sees only
what its manifest gives it.

``.env`` format: ``NAME=value`` lines, ``#`` comments, an optional ``export``; a value in
single quotes is taken as written, one in double quotes understands ``\n``, ``\t``,
``\"`` and ``\\``; both may span lines. An unquoted value ends at the end of the line or
at `` #``. No variable expansion.

Masking: every Secret value a run reads (the whole value, and each line of a multi-line
one) is replaced by ``***`` in what the engine records: ``run.json`` and ``node.json``
(results, outputs, inputs, messages), the progress output, and each attempt's
``stdout.log``/``stderr.log`` (rewritten when the attempt ends). Values shorter than three
characters are not masked (masking every ``1`` would garble the logs). Values passed
between tasks are not masked: a task that prints a secret still hands it on.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flowdsl.errors import RunError
from flowdsl.local.manifest import Spec, leaf_templates

__all__ = [
    "MASK",
    "PREFIX",
    "Found",
    "Masker",
    "MissingValue",
    "Sources",
    "SourcesError",
    "check_sources",
    "container_env",
    "normalise",
    "parse_dotenv",
    "variable_name",
]

#: What a masked secret value becomes.
MASK = "***"
#: The prefix of the variables that hold Secret and ConfigMap values locally.
PREFIX = "FLOWDSL_SECRET_"
#: Values shorter than this are not masked.
MIN_MASKED = 3

Kind = Literal["Secret", "ConfigMap"]
#: The ``valueFrom`` / ``envFrom`` fields, by kind.
_KEY_REFS: tuple[tuple[Kind, str], ...] = (
    ("Secret", "secretKeyRef"),
    ("ConfigMap", "configMapKeyRef"),
)
_OBJECT_REFS: tuple[tuple[Kind, str], ...] = (
    ("Secret", "secretRef"),
    ("ConfigMap", "configMapRef"),
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def normalise(text: str) -> str:
    """``text`` upper-cased, every character but ``A-Z`` and ``0-9`` turned into ``_``.

    One character in, one out (so a prefix of a normalised name is the normalised prefix).
    """
    return "".join(c.upper() if c.isascii() and c.isalnum() else "_" for c in text)


def variable_name(name: str, key: str) -> str:
    """The variable that holds key ``key`` of Secret or ConfigMap ``name`` locally."""
    return f"{PREFIX}{normalise(name)}_{normalise(key)}"


class SourcesError(Exception):
    """The ``.env`` file cannot be read or parsed (the message names the line, never a value)."""


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_dotenv(text: str, where: str = ".env") -> dict[str, str]:
    """The variables of a ``.env`` file (format in the module docstring).

    Raises:
        SourcesError: a line is not ``NAME=value`` or a quote is not closed; the message
            names the file and line but never shows a value.
    """
    out: dict[str, str] = {}
    pos = 0
    line_no = 1
    length = len(text)
    while pos < length:
        end = text.find("\n", pos)
        end = length if end < 0 else end
        line = text[pos:end].strip()
        start_line = line_no
        if not line or line.startswith("#"):
            pos = end + 1
            line_no += 1
            continue
        if line.startswith(("export ", "export\t")):
            line = line[len("export") :].lstrip()
        name, equals, _ = line.partition("=")
        name = name.strip()
        if not equals or not name or any(c.isspace() for c in name):
            raise SourcesError(f"{where}, line {start_line}: expected NAME=value")
        # The value starts after the first '=' of the (unstripped) line.
        value_start = text.index("=", pos) + 1
        while value_start < length and text[value_start] in " \t":
            value_start += 1
        quote = text[value_start] if value_start < length else ""
        if quote in ("'", '"'):
            chars: list[str] = []
            cursor = value_start + 1
            closed = False
            while cursor < length:
                char = text[cursor]
                if char == quote:
                    closed = True
                    break
                if char == "\\" and quote == '"' and cursor + 1 < length:
                    follower = text[cursor + 1]
                    chars.append(_ESCAPES.get(follower, "\\" + follower))
                    cursor += 2
                    continue
                chars.append(char)
                cursor += 1
            if not closed:
                raise SourcesError(
                    f"{where}, line {start_line}: the quoted value of {name} is not closed"
                )
            value = "".join(chars)
            line_no += text.count("\n", value_start, cursor)
            end = text.find("\n", cursor)
            end = length if end < 0 else end
            rest = text[cursor + 1 : end].strip()
            if rest and not rest.startswith("#"):
                raise SourcesError(
                    f"{where}, line {line_no}: unexpected text after the quoted value of {name}"
                )
        else:
            raw = text[value_start:end]
            comment = re.search(r"\s#", raw)
            value = (raw[: comment.start()] if comment else raw).strip()
        out[name] = value
        pos = end + 1
        line_no += 1
    return out


@dataclass(frozen=True, slots=True)
class Found:
    """A value found for a Secret or ConfigMap key.

    Attributes:
        value: the value.
        variable: the variable that held it, as written.
        origin: ``"the environment"`` or the ``.env`` file's path.
    """

    value: str
    variable: str
    origin: str


class MissingValue(Exception):
    """A Secret or ConfigMap value a container needs has no local value.

    ``problem`` says what reads it, ``fix`` the two ways to provide it; the engine prefixes
    the template's name.
    """

    def __init__(self, problem: str, fix: str, label: str) -> None:
        self.problem = problem
        self.fix = fix
        #: What reads the value, shortly (``DEPLOY_TOKEN``, ``volume 'creds'``).
        self.label = label
        super().__init__(f"{problem}; {fix}")


class Sources:
    """Where Secret and ConfigMap values come from on this machine (see the module docstring).

    Args:
        environ: the environment to read (default: this process's, as it is now).
        env_file: the ``.env`` file; ``None`` reads none. A missing file is no error.

    Raises:
        SourcesError: the ``.env`` file exists but cannot be read or parsed.
    """

    def __init__(
        self, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.env_file = env_file
        self.dotenv: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            try:
                text = env_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SourcesError(f"cannot read {env_file}: {exc}") from None
            self.dotenv = parse_dotenv(text, str(env_file))
        # Normalised name -> (variable as written, origin, value); the environment wins.
        self._index: dict[str, tuple[str, str, str]] = {}
        for variable, value in self.dotenv.items():
            self._index.setdefault(normalise(variable), (variable, str(env_file), value))
        for variable, value in self.environ.items():
            self._index[normalise(variable)] = (variable, "the environment", value)

    def _specific(self, name: str, key: str) -> Found | None:
        # Any spelling that normalises the same; the environment's first (see the index).
        entry = self._index.get(variable_name(name, key))
        return None if entry is None else Found(entry[2], entry[0], entry[1])

    def lookup(self, name: str, key: str, variable: str | None = None) -> Found | None:
        """The value of key ``key`` of ``name``, or ``None``; ``variable`` is step 3 and 4."""
        found = self._specific(name, key)
        if found is not None or variable is None:
            return found
        if variable in self.environ:
            return Found(self.environ[variable], variable, "the environment")
        if variable in self.dotenv:
            return Found(self.dotenv[variable], variable, str(self.env_file))
        return None

    def whole(self, name: str) -> dict[str, Found]:
        """Every key of ``name`` found locally: key (as spelled after the prefix) -> value."""
        prefix = f"{PREFIX}{normalise(name)}_"
        out: dict[str, Found] = {}
        by_normal: dict[str, str] = {}
        for normal, (variable, origin, value) in sorted(self._index.items()):
            if not normal.startswith(prefix) or len(normal) == len(prefix):
                continue
            key = variable[len(prefix) :]
            # One file per key even when the environment and .env spell it differently.
            if normal in by_normal:
                continue
            by_normal[normal] = key
            out[key] = Found(value, variable, origin)
        return out

    def _ways(self, specific: str, variable: str | None) -> str:
        names = f"{specific} (or {variable})" if variable else specific
        if self.env_file is None:
            return f"set {names} in the environment"
        return f"set {names} in the environment, or add {specific}=<value> to {self.env_file}"

    def missing_key(
        self, what: str, kind: Kind, name: str, key: str, variable: str | None = None
    ) -> MissingValue:
        """The error for key ``key`` of ``name`` that ``what`` reads and nobody provides."""
        return MissingValue(
            f"{what} reads key '{key}' of {kind} '{name}', which has no value locally",
            self._ways(variable_name(name, key), variable),
            variable or what,
        )

    def missing_object(self, what: str, kind: Kind, name: str) -> MissingValue:
        """The error for a whole Secret or ConfigMap ``what`` reads with no key provided."""
        prefix = f"{PREFIX}{normalise(name)}_"
        where = "the environment"
        if self.env_file is not None:
            where += f" or {self.env_file}"
        return MissingValue(
            f"{what} reads every key of {kind} '{name}', and none has a value locally",
            f"set {prefix}<KEY> for each key in {where} (the rest of the name is the key, "
            f"e.g. {prefix}key.json in {self.env_file or '.env'})",
            what,
        )


class Masker:
    """Hides secret values in the texts and files a run records (thread-safe).

    At any position the longest value wins, so a secret that contains another is masked
    whole.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (values, text pattern, bytes pattern), replaced whole so readers need no lock.
        self._state: tuple[tuple[str, ...], re.Pattern[str], re.Pattern[bytes]] | None = None

    def __bool__(self) -> bool:
        return self._state is not None

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (and each line of it, when it has several)."""
        candidates = {value, *(line.strip() for line in value.splitlines())}
        with self._lock:
            known = set(self._state[0]) if self._state else set()
            new = {c for c in candidates if len(c) >= MIN_MASKED and c not in known}
            if not new:
                return
            values = tuple(sorted(known | new, key=lambda v: (-len(v), v)))
            # Alternatives are tried in order: longest first.
            self._state = (
                values,
                re.compile("|".join(re.escape(v) for v in values)),
                re.compile(b"|".join(re.escape(v.encode("utf-8")) for v in values)),
            )

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced by ``***``."""
        state = self._state
        return text if state is None else state[1].sub(MASK, text)

    def mask_file(self, path: Path, chunk_size: int = 1 << 20) -> None:
        """Rewrite ``path`` with secret values masked; a file without any is left untouched.

        Streams the file, so a large log costs little memory.
        """
        state = self._state
        if state is None:
            return
        values, _, pattern = state
        try:
            source = path.open("rb")
        except OSError:
            return
        # A match starting before the last `keep` bytes of the buffer is fully visible, and
        # so is any longer value starting there: it can be decided now.
        keep = max(len(v.encode("utf-8")) for v in values) - 1
        temp = path.with_name(f".{path.name}.masking")
        changed = False
        with source, temp.open("wb") as target:
            buffer = b""
            while True:
                chunk = source.read(chunk_size)
                buffer += chunk
                end = not chunk
                limit = len(buffer) if end else len(buffer) - keep
                parts: list[bytes] = []
                pos = 0
                for match in pattern.finditer(buffer):
                    if match.start() >= limit:
                        break
                    parts += [buffer[pos : match.start()], MASK.encode()]
                    pos = match.end()
                    changed = True
                emit = max(pos, limit)
                parts.append(buffer[pos:emit])
                target.write(b"".join(parts))
                buffer = buffer[emit:]
                if end:
                    break
        if changed:
            os.replace(temp, path)
        else:
            temp.unlink()


def _refs(body: Mapping[str, Any]) -> Iterator[tuple[str, Kind, Mapping[str, Any]]]:
    """(variable, kind, ref) of each ``env`` entry read from a Secret or ConfigMap key."""
    for variable in body.get("env") or []:
        source = variable.get("valueFrom") or {}
        for kind, field in _KEY_REFS:
            ref = source.get(field)
            if isinstance(ref, Mapping):
                yield str(variable.get("name")), kind, ref


def has_templated_refs(body: Mapping[str, Any]) -> bool:
    """Whether a Secret or ConfigMap name or key of ``body`` is only known at run time."""
    for _, _, ref in _refs(body):
        if "{{" in str(ref.get("name")) or "{{" in str(ref.get("key")):
            return True
    for source in body.get("envFrom") or []:
        for _, field in _OBJECT_REFS:
            ref = source.get(field)
            if isinstance(ref, Mapping) and "{{" in str(ref.get("name")):
                return True
    return False


def container_env(
    body: Mapping[str, Any],
    sources: Sources,
    masker: Masker,
    missing: list[MissingValue] | None = None,
) -> tuple[dict[str, str], dict[str, str], list[tuple[str, Found]]]:
    """The values a container's ``envFrom`` and ``valueFrom`` entries read locally.

    Args:
        body: the container (or script) of a template, after substitution.
        sources: where values come from.
        masker: told about every Secret value found.
        missing: when given, each missing value is added to it instead of raised.

    Returns:
        ``(env_from, value_from, found)``: the variables ``envFrom`` sets, the values of the
        ``env`` entries read from a Secret or ConfigMap (by variable name), and what was
        found for each ``env`` entry (for the run's notes).

    Raises:
        MissingValue: a value that is not optional has no local value.
    """
    env_from: dict[str, str] = {}
    for index, source in enumerate(body.get("envFrom") or []):
        prefix = str(source.get("prefix") or "")
        for kind, field in _OBJECT_REFS:
            ref = source.get(field)
            if not isinstance(ref, Mapping):
                continue
            name = str(ref.get("name") or "")
            keys = sources.whole(name)
            if not keys and not ref.get("optional"):
                error = sources.missing_object(f"envFrom[{index}]", kind, name)
                if missing is None:
                    raise error
                missing.append(error)
            for key, item in keys.items():
                # Kubernetes skips keys that are not valid variable names.
                if _ENV_NAME.fullmatch(prefix + key):
                    env_from[prefix + key] = item.value
                    if kind == "Secret":
                        masker.add(item.value)
    value_from: dict[str, str] = {}
    notes: list[tuple[str, Found]] = []
    for variable, kind, ref in _refs(body):
        name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
        found = sources.lookup(name, key, variable)
        if found is None:
            if ref.get("optional"):
                continue
            error = sources.missing_key(
                f"environment variable {variable}", kind, name, key, variable
            )
            if missing is None:
                raise error
            missing.append(error)
            continue
        value_from[variable] = found.value
        notes.append((variable, found))
        if kind == "Secret":
            masker.add(found.value)
    return env_from, value_from, notes


def check_sources(spec: Spec, sources: Sources, masker: Masker, flow_name: str) -> list[str]:
    """Look up every Secret and ConfigMap value the containers read, before anything runs.

    Containers whose names or keys hold ``{{...}}`` are looked up when they run instead.

    Returns:
        A note for the run's output naming each variable and where its value came from
        (never the value), or nothing.

    Raises:
        RunError: a value is missing (the first one in full, the others by name).
    """
    missing: list[tuple[str, MissingValue]] = []
    found: dict[str, str] = {}
    for name, template, kind in leaf_templates(spec):
        body = template[kind]
        if has_templated_refs(body):
            continue
        errors: list[MissingValue] = []
        _, _, notes = container_env(body, sources, masker, errors)
        missing.extend((name, exc) for exc in errors)
        for variable, item in notes:
            source = "" if item.variable == variable else f"{item.variable} "
            found.setdefault(variable, f"{variable} ({source}from {item.origin})")
    if missing:
        first = missing[0][1]
        # The same reference in several templates is one problem: name them together.
        names = [f"'{t}'" for t, exc in missing if exc.problem == first.problem]
        where = f"template {names[0]}" if len(names) == 1 else f"templates {', '.join(names)}"
        others = list(
            dict.fromkeys(
                f"{exc.label} in template '{t}'"
                for t, exc in missing
                if exc.problem != first.problem
            )
        )
        more = f" (also missing: {', '.join(others)})" if others else ""
        raise RunError(f"{where}: {first.problem}{more}", fix=first.fix, flow=flow_name)
    if not found:
        return []
    return [
        "Secret and ConfigMap values read locally: "
        + ", ".join(found[v] for v in sorted(found))
        + "; secret values are masked in logs and records"
    ]
