"""Entry point of ``python -m target_api``."""

import sys

from target_api import main

sys.exit(main())
