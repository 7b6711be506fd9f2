"""By-value task payloads: a function and its type hints, pickled into readable text.

A task whose code is not installed in the image (a script, or a module the image lacks)
reaches the pod by value: :func:`dump` pickles the function with cloudpickle and the
compiler embeds the text as the ``source`` of an Argo script template; inside the pod,
``python -m flowdsl.runtime --payload PATH`` calls :func:`load` on it.

The text is a few header lines a human can read, then the base64 of the pickle::

    # flowdsl task payload v1
    # function: acme.pipeline:extract
    # python: 3.11.7
    # cloudpickle: 3.1.2
    # flowdsl: 0.1.0
    # crc32: 5f0e3a1c
    gASVqAIAAAAAAACMF2Nsb3VkcGlja2xlLmNsb3VkcGlja2xllIwOX21ha2VfZnVuY3Rpb26Uk5Qo
    ...

A pickle only loads into the interpreter and libraries that made it, so :func:`load` checks
the recorded versions (Python, cloudpickle and flowdsl, each major.minor) *before*
unpickling and raises :class:`~flowdsl.errors.PayloadError` naming both versions and the fix.

The type hints travel inside the payload because they cannot be recomputed in the pod:
string annotations (``from __future__ import annotations``) name globals that cloudpickle
does not ship unless the function body uses them.

NOTE: [Deterministic payloads]
The payload is embedded in compiled manifests, and manifests are deterministic (golden tests,
``git diff`` of compiled YAML). Plain cloudpickle output is not, across processes, in two ways
that :class:`_Pickler` (built lazily by ``_pickler_class``) corrects:

- every class pickled by value carries a random ``uuid4`` "tracker id" (cloudpickle uses it
  to give one class identity to several unpickled copies). We pre-register a tracker id
  derived from the class's module, qualified name and attribute names instead. This touches
  cloudpickle internals; when they are absent the payload still works, it is just not
  byte-stable (``tests/test_payload.py`` notices).
- sets and frozensets (``x in {"a", "b"}`` compiles to a frozenset constant) iterate in hash
  order, which differs between processes for strings. Sets of scalars are pickled as a
  sorted tuple under a persistent id and rebuilt by :func:`load`'s unpickler.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import pickle
import sys
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

from flowdsl._version import __version__ as _flowdsl_version
from flowdsl.errors import PayloadError

__all__ = ["MAGIC", "dump", "load"]

MAGIC = "# flowdsl task payload v1"
"""First line of every payload; the trailing ``v1`` is the format version."""

_MAGIC_PREFIX = "# flowdsl task payload v"
_WIDTH = 76
# Persistent ids of sets made by _Pickler: (tag, serial, "set" | "frozenset", sorted items).
_SET_TAG = "flowdsl-sorted-set"
_DAMAGED_FIX = "compile the flow again and use the payload unchanged"

# Registering a module for pickling by value is process-wide cloudpickle state: serialise
# dumps so that one dump cannot unregister a module another dump still needs.
_dump_lock = threading.Lock()


def dump(fn: Callable[..., Any], hints: Mapping[str, Any], *, task: str | None = None) -> str:
    """Pickle a task function and its type hints, by value, into payload text.

    The function's own module (unless it is ``__main__``, which cloudpickle always pickles by
    value) is registered with ``cloudpickle.register_pickle_by_value`` for the duration of
    the dump, so the function, and the classes and helpers of that module it uses, travel
    with the payload. Other modules it uses are pickled by reference and must be importable
    in the image.

    The result is deterministic: the same function and hints in the same environment give
    the same text.

    Args:
        fn: the plain task function (not its ``@task`` wrapper).
        hints: the function's resolved type hints (parameter names and ``"return"``).
        task: the task's name, written in the header (the runtime gives it to
            ``flowdsl.current().task``; see :func:`task_name`).

    Returns:
        The payload text: header lines, then the base64 of the pickle wrapped at 76 columns,
        ending with a newline.
    """
    import cloudpickle

    module_name = getattr(fn, "__module__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    buffer = io.BytesIO()
    with _dump_lock:
        register = (
            module is not None
            and module.__name__ != "__main__"
            and module.__name__ not in cloudpickle.list_registry_pickle_by_value()
        )
        if register:
            cloudpickle.register_pickle_by_value(module)
        try:
            _pickler_class()(buffer, protocol=cloudpickle.DEFAULT_PROTOCOL).dump((fn, dict(hints)))
        finally:
            if register:
                cloudpickle.unregister_pickle_by_value(module)
    data = buffer.getvalue()
    body = base64.b64encode(data).decode("ascii")
    header = [
        MAGIC,
        f"# function: {_function_name(fn)}",
        *([f"# task: {task}"] if task else []),
        f"# python: {_python_version()}",
        f"# cloudpickle: {cloudpickle.__version__}",
        f"# flowdsl: {_flowdsl_version}",
        f"# crc32: {binascii.crc32(data):08x}",
    ]
    lines = header + [body[i : i + _WIDTH] for i in range(0, len(body), _WIDTH)]
    return "\n".join(lines) + "\n"


def task_name(text: str) -> str | None:
    """The task name in a payload's header (``# task: NAME``), if :func:`dump` wrote one."""
    return _read_header(text.splitlines())[0].get("task") or None


def _read_header(lines: list[str]) -> tuple[dict[str, str], int]:
    """The ``# key: value`` lines after the first, and the index of the first body line."""
    header: dict[str, str] = {}
    for index, line in enumerate(lines[1:], start=1):
        if not line.startswith("#"):
            return header, index
        key, sep, value = line[1:].partition(":")
        if sep:
            header[key.strip()] = value.strip()
    return header, len(lines)


def load(text: str) -> tuple[Callable[..., Any], dict[str, Any]]:
    """Check a payload against this interpreter and unpickle its function and hints.

    Args:
        text: what :func:`dump` produced.

    Returns:
        ``(fn, hints)``, as given to :func:`dump`.

    Raises:
        PayloadError: the text is not a payload or is damaged, it was made with another
            Python, cloudpickle or flowdsl version (major.minor) than this one, or it needs a
            module this interpreter cannot import.
    """
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if first != MAGIC:
        if first.startswith(_MAGIC_PREFIX):
            version = first[len(_MAGIC_PREFIX) - 1 :]
            raise PayloadError(
                f"payload format {version} is not supported (flowdsl {_flowdsl_version} "
                f"reads {MAGIC[len(_MAGIC_PREFIX) - 1 :]})",
                fix="compile with the flowdsl version installed in the image",
            )
        shown = first if len(first) <= 60 else first[:60] + "..."
        raise PayloadError(
            f"not a flowdsl task payload (expected first line {MAGIC!r}, got {shown!r})",
            fix="pass the file holding the template's script source, as flowdsl wrote it",
        )

    header, body_start = _read_header(lines)
    function = header.get("function", "")
    task = function.rpartition(":")[2] or None
    for key in ("python", "cloudpickle", "flowdsl", "crc32"):
        if key not in header:
            raise PayloadError(
                f"payload is damaged: its header has no {key!r} line", fix=_DAMAGED_FIX, task=task
            )
    _check_versions(header, task)

    try:
        data = base64.b64decode("".join(lines[body_start:]), validate=True)
    except binascii.Error as err:
        raise PayloadError(
            f"payload is damaged: its body is not valid base64 ({err})",
            fix=_DAMAGED_FIX,
            task=task,
        ) from None
    checksum = f"{binascii.crc32(data):08x}"
    if checksum != header["crc32"].lower():
        raise PayloadError(
            f"payload is damaged: its body has checksum {checksum}, the header says "
            f"{header['crc32']}",
            fix=_DAMAGED_FIX,
            task=task,
        )

    try:
        loaded = _Unpickler(io.BytesIO(data)).load()
    except ModuleNotFoundError as err:
        raise PayloadError(
            f"payload needs module {err.name!r}, which this image cannot import",
            fix=f"install {err.name!r} in the image, or compile with code='import' so the "
            "image's own code is used",
            task=task,
        ) from None
    except Exception as err:
        raise PayloadError(
            f"payload is damaged: it does not unpickle ({type(err).__name__}: {err})",
            fix=_DAMAGED_FIX,
            task=task,
        ) from None
    if not (
        isinstance(loaded, tuple)
        and len(loaded) == 2
        and callable(loaded[0])
        and isinstance(loaded[1], dict)
    ):
        raise PayloadError(
            "payload is damaged: it does not hold a function and its type hints "
            f"(got a {type(loaded).__name__})",
            fix=_DAMAGED_FIX,
            task=task,
        )
    return loaded[0], loaded[1]


def _check_versions(header: Mapping[str, str], task: str | None) -> None:
    """Raise PayloadError if the payload was made by another major.minor of anything."""
    made = header["python"]
    have = _python_version()
    if _major_minor(made) != _major_minor(have):
        raise PayloadError(
            f"payload was made with Python {made}, this image has Python {have}",
            fix=f"build the image with Python {_major_minor(made)}",
            task=task,
        )
    made = header["cloudpickle"]
    try:
        # Imported here, not at module level: the payload unpickles through it anyway.
        import cloudpickle

        have_cloudpickle: str | None = str(cloudpickle.__version__)
    except ImportError:
        have_cloudpickle = None
    if have_cloudpickle is None or _major_minor(made) != _major_minor(have_cloudpickle):
        have = "no cloudpickle" if have_cloudpickle is None else f"cloudpickle {have_cloudpickle}"
        raise PayloadError(
            f"payload was made with cloudpickle {made}, this image has {have}",
            fix=f"pip install cloudpickle=={_major_minor(made)}.*",
            task=task,
        )
    made = header["flowdsl"]
    if _major_minor(made) != _major_minor(_flowdsl_version):
        raise PayloadError(
            f"payload was made with flowdsl {made}, this image has flowdsl {_flowdsl_version}",
            fix=f"pip install flowdsl=={_major_minor(made)}.* in the image, or compile with "
            "code='import' so the image's own code is used",
            task=task,
        )


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _python_version() -> str:
    return "{}.{}.{}".format(*sys.version_info[:3])


def _function_name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}:{qualname}"
    return type(fn).__qualname__


class _Unpickler(pickle.Unpickler):
    """Rebuilds the sorted sets that ``_Pickler`` wrote as persistent ids."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file)
        self._sets: dict[int, set[Any] | frozenset[Any]] = {}

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 4 and pid[0] == _SET_TAG):
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        _, serial, kind, items = pid
        # The same set may be referenced from several places: keep it one object.
        if serial not in self._sets:
            self._sets[serial] = set(items) if kind == "set" else frozenset(items)
        return self._sets[serial]


@functools.cache
def _pickler_class() -> type[Any]:
    """Build (once) the cloudpickle Pickler subclass; cloudpickle is imported lazily."""
    import cloudpickle

    class _Pickler(cloudpickle.Pickler):  # type: ignore[misc]
        """cloudpickle, made deterministic (see the module's NOTE)."""

        def __init__(self, file: IO[bytes], protocol: int) -> None:
            super().__init__(file, protocol=protocol)
            self._set_ids: dict[int, tuple[Any, ...]] = {}
            self._set_refs: list[Any] = []  # keeps ids in _set_ids valid

        def persistent_id(self, obj: Any) -> Any:
            kind = type(obj)
            if kind is set or kind is frozenset:
                return self._sorted_set_id(obj)
            # issubclass(type(obj), type), not isinstance(obj, type): before Python 3.11,
            # a generic alias such as list[int] passes isinstance(..., type), and
            # cloudpickle refuses to look it up as a class.
            if issubclass(kind, type):
                _track_class(obj)
            return None

        def _sorted_set_id(self, obj: set[Any] | frozenset[Any]) -> Any:
            pid = self._set_ids.get(id(obj))
            if pid is None:
                try:
                    items = tuple(sorted(obj, key=_scalar_key))
                except TypeError:
                    return None  # not scalars: pickled as usual, in hash order
                name = "set" if type(obj) is set else "frozenset"
                pid = (_SET_TAG, len(self._set_ids), name, items)
                self._set_ids[id(obj)] = pid
                self._set_refs.append(obj)
            return pid

    return _Pickler


def _scalar_key(value: Any) -> tuple[Any, ...]:
    """Total order over scalars of mixed types; TypeError for anything else."""
    kind = type(value)
    if kind in (str, bytes, int, float, bool):
        return (kind.__name__, value)
    if value is None:
        return ("NoneType",)
    if kind is tuple:
        return ("tuple", tuple(_scalar_key(item) for item in value))
    raise TypeError(kind.__name__)


def _track_class(cls: type) -> None:
    """Give a class pickled by value a tracker id derived from its name, not a random one."""
    internals = sys.modules.get("cloudpickle.cloudpickle")
    by_class = getattr(internals, "_DYNAMIC_CLASS_TRACKER_BY_CLASS", None)
    by_id = getattr(internals, "_DYNAMIC_CLASS_TRACKER_BY_ID", None)
    lock = getattr(internals, "_DYNAMIC_CLASS_TRACKER_LOCK", None)
    by_reference = getattr(internals, "_should_pickle_by_reference", None)
    if by_class is None or by_id is None or lock is None or by_reference is None:
        return
    if by_reference(cls):
        return
    import hashlib

    fingerprint = "\0".join([str(cls.__module__), cls.__qualname__, *sorted(vars(cls))])
    with lock:
        if cls in by_class:
            return
        # Two different classes of the same name and shape in one process (a class defined
        # again) get different ids: the serial counts the ones already tracked.
        serial = 0
        while True:
            key = f"{fingerprint}\0{serial}".encode()
            tracker_id = "flowdsl-" + hashlib.sha256(key).hexdigest()[:32]
            if by_id.get(tracker_id) is None:
                break
            serial += 1
        by_class[cls] = tracker_id
        by_id[tracker_id] = cls
