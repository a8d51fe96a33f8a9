"""``python -m optimlab.testing report``: see ``optimlab.testing.report``."""

import sys

from optimlab.testing.report import main

sys.exit(main(sys.argv[1:]))
