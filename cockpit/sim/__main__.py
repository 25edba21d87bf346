"""``python -m cockpit.sim``: the drill environment (see cockpit.sim.server.main)."""

import sys

from cockpit.sim.server import main

sys.exit(main())
