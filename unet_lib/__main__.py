"""``python -m unet_lib``: the course's main command (``unet_lib.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
