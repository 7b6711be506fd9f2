"""The in-pod runtime: ``python -m flowdsl.runtime`` runs one task inside its container.

Every template flowdsl emits runs this command. It finds the task's function, by import
(``module:qualname`` as the first argument, or ``--function``, for images that contain the
project) or by value (``--payload PATH``, the script file Argo writes from a script
template's ``source``, see :mod:`flowdsl.payload`); decodes each ``name=text`` argument
(or ``--input name=text``) with the codec of the parameter's type hint
(:func:`flowdsl.types.codec_for`); calls the function; writes the encoded return value to
stdout, which Argo keeps as the step's ``outputs.result``; and writes each field output of
a structured return (:func:`flowdsl.types.output_values`) and a returned artifact to a
file of the ``--outputs`` directory, where Argo's ``valueFrom.path`` reads it.

Exit status:

- 0: the function returned a value that matches its return hint, and the outputs are
  written;
- 1: the user's code raised (while being imported, or while running); its traceback is on
  stderr;
- 2: the pod's command and the code disagree: a bad command line, a function or payload
  that cannot be loaded, an unknown, missing or undecodable input, or a return value that
  does not match the return hint. One line on stderr says which task, which parameter,
  what was expected and what was got.

Standard output carries the result and nothing else: whatever the task prints (and its
child processes) goes to stderr, see NOTE: [The result is stdout] in ``_main.py``. Every
pod pays for its imports, so this package imports the standard
library, :mod:`flowdsl.errors` and :mod:`flowdsl.types` only (and :mod:`flowdsl.payload`,
with cloudpickle, for payloads); never Hera, pydantic, PyYAML or attrs.
"""

from __future__ import annotations

from flowdsl.runtime._main import main

__all__ = ["main"]
