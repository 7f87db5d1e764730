"""``python -m analyzer``: the same command line as the ``analyzer`` console script."""

import sys

from analyzer.cli import main

sys.exit(main())
