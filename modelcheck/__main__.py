"""``python -m modelcheck``: the same as the ``modelcheck`` command."""

import sys

from .cli import main

sys.exit(main())
