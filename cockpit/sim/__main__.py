"""``python -m cockpit.sim``: the drill environment (see cockpit.sim.server.main)."""

import os
import sys

_PARENT = os.getppid()  # before the heavy imports: a parent that dies meanwhile is still noticed

from cockpit.sim.server import main  # noqa: E402

sys.exit(main(parent=_PARENT))
