"""`python -m service.cli`: the same as `recovery-ops`."""

import sys

from service.cli import main

sys.exit(main())
