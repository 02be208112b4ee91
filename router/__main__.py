"""`python -m router` runs the command line."""

import sys

from router.cli import main

sys.exit(main())
