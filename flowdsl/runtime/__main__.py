"""``python -m flowdsl.runtime``: run one task in its container (see :mod:`flowdsl.runtime`)."""

from __future__ import annotations

import sys

from flowdsl.runtime._main import main

if __name__ == "__main__":
    sys.exit(main())
