"""``python -m clay_cockpit.sim``: the drill environment (see clay_cockpit.sim.server.main).

With ``--announce`` (the demo passes it) the scenario is validated first,
before the server's heavy imports, and the verdict goes to stdout as one JSON
line: ``{"scenario": name, "title": title}``, or ``{"error": {...}}`` (the
ConfigError's fields) and exit 2. The demo starts this process before it
imports Textual and reads that line before it takes the screen, so the
scenario is checked on the other core while the cockpit loads.
"""

import os
import sys

_PARENT = os.getppid()  # before the heavy imports: a parent that dies meanwhile is still noticed


def _announce(argv: list[str]) -> int | None:
    import argparse
    import json

    from clay_cockpit.paths import ConfigError
    from clay_cockpit.sim.scenario import load_scenario

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--scenario", default="clay-outage")
    known, _ = parser.parse_known_args(argv)
    try:
        spec = load_scenario(known.scenario)
    except ConfigError as err:
        line = {"error": {"file": err.file, "key": err.key, "expected": err.expected, "found": err.found}}
        print(json.dumps(line), flush=True)
        return 2
    print(json.dumps({"scenario": spec.name, "title": spec.title}), flush=True)
    return None


if "--announce" in sys.argv[1:] and (code := _announce(sys.argv[1:])) is not None:
    sys.exit(code)

from clay_cockpit.sim.server import main  # noqa: E402

sys.exit(main(parent=_PARENT))
