"""Regenerate the README's generated sections from the code they describe.

    .venv/bin/python dev/readme.py          # rewrite README.md in place
    .venv/bin/python dev/readme.py --check  # exit 1 if README.md is out of date

Sections sit between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``:
``keys`` (the app's binding list, the same one the footer, the help screen
and the palette show, with the ids a ``[keymap]`` names), ``config`` (the config schema's docs and defaults) and
``scenarios`` (the shipped drill scenarios). tests/test_readme.py runs the
check, so the README cannot drift from the program.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def keys_table() -> str:
    from clay_cockpit.app import make_app
    from clay_cockpit.config import config_from_toml, default_toml_text, parse_toml

    config = config_from_toml(parse_toml(default_toml_text(), "default.toml"), "default.toml")
    app = make_app(config, None)
    rows = ["| Key | Does | Where | Id |", "|---|---|---|---|"]
    for section, bindings in app.binding_sections():
        for binding in bindings:
            key = app.get_key_display(binding)
            rows.append(f"| `{_cell(key)}` | {_cell(binding.tooltip or binding.description)} | {section} | `{binding.id}` |")
    return "\n".join(rows)


def config_table() -> str:
    from clay_cockpit.config import reference

    rows = ["| Key | Default | Meaning |", "|---|---|---|"]
    for key, default, doc in reference():
        rows.append(f"| `{key}` | {('`' + _cell(default) + '`') if default else ''} | {_cell(doc)} |")
    return "\n".join(rows)


def scenarios_table() -> str:
    from clay_cockpit.sim.scenario import load_scenario, scenario_names

    rows = ["| Scenario | What happens | Triage should say | The cockpit should show |", "|---|---|---|---|"]
    for name in scenario_names():
        spec = load_scenario(name)
        expect = spec.expect
        verdict = expect.branch.replace("_", " ") + (f", {expect.severity}" if expect.severity not in ("", "none") else "")
        if expect.confidence != "high":
            verdict += f" ({expect.confidence} confidence)"
        shown = [f"{pane}: {state}" for pane, state in expect.panes.items() if state != "ok"]
        shown += [f"“{words}”" for words in expect.says]
        if expect.action is not None:
            action = expect.action.kind.replace("_", " ")
            if expect.action.fails:
                action += f" fails: {expect.action.fails.replace('_', ' ')}"
                if expect.action.retry:
                    action += ", then a login and g apply it"
            shown.append(action + "".join(f"; “{w}”" for w in expect.action.says))
        rows.append(
            f"| `{name}` | **{_cell(spec.title)}.** {_cell(' '.join(spec.summary.split()))} | {verdict} | {_cell('; '.join(shown))} |"
        )
    return "\n".join(rows)


SECTIONS = {"keys": keys_table, "config": config_table, "scenarios": scenarios_table}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"dev/readme.py: README.md has no <!-- {name}:start --> … <!-- {name}:end --> section")
        body = make()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print("README.md is out of date: run .venv/bin/python dev/readme.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
