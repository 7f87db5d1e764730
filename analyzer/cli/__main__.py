"""``python -m analyzer.cli``: the command line, as the console script runs it."""

import sys

from analyzer.cli.main import main

sys.exit(main())
