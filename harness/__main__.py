"""``python -m harness`` is ``reliable-test-runner``."""

import sys

from harness.cli import main

sys.exit(main())
