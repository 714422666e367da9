"""`python -m recovery_ops.service.cli`: the same as `recovery-ops`."""

import sys

from recovery_ops.service.cli import main

sys.exit(main())
