"""``python -m flowdsl``."""

from flowdsl.cli import main

if __name__ == "__main__":
    main()
