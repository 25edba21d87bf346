"""Message templates: shipped in ``config/templates/``, overridable per file
from ``comms.templates_dir`` (or ``~/.config/clay-cockpit/templates``).

Rendered with the standard library's :class:`string.Template` (``$name`` /
``${name}``; ``$$`` is a literal ``$``). Lists (reasons, actions) arrive as
ready-made multi-line values, so no template needs a loop and no template
language beyond the standard library is needed.

A user template is checked when it is loaded: unreadable, not UTF-8, empty,
a ``$`` that starts no placeholder, or a placeholder the cockpit does not
provide each give one :class:`TemplateProblem` naming the file and line,
and the shipped template is used instead. Pure standard library.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_TEMPLATE_BYTES = 64 * 1024

# variables every message template may use (built by comms_context.values)
MESSAGE_VARIABLES = frozenset({
    "incident_id", "severity", "severity_name", "response_target", "suggested_severity", "status", "status_label",
    "declared_time", "declared_by", "elapsed", "now_time", "headline", "branch_label", "confidence", "impact",
    "impact_now", "impact_peak", "watching", "current_action", "next_update", "next_update_time", "next_update_in", "reasons",
    "actions_taken", "next_steps", "clay_status",
    "cannot_see", "channel", "external_title", "external_summary", "external_impact", "external_next",
})  # fmt: skip

POSTMORTEM_VARIABLES = frozenset({
    "incident_id", "headline", "draft_banner", "severity_line", "status_line", "declared_line", "duration",
    "generated_line", "summary", "severity_section", "impact_window", "response_times", "decision", "actions",
    "checklist", "messages", "chart", "log_excerpt", "timeline", "footer",
})  # fmt: skip


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    filename: str
    variables: frozenset[str]
    doc: str


SPECS: dict[str, TemplateSpec] = {
    s.name: s
    for s in (
        TemplateSpec(
            "slack_update",
            "slack_update.txt",
            MESSAGE_VARIABLES,
            "internal update, a reply in the incident thread (first line: the header; Slack mrkdwn)",
        ),
        TemplateSpec(
            "slack_summary",
            "slack_summary.txt",
            MESSAGE_VARIABLES,
            "the message that opens the incident thread, kept current with chat.update",
        ),
        TemplateSpec("status_title", "status_title.txt", MESSAGE_VARIABLES, "the status page incident's name (one line)"),
        TemplateSpec("status_update", "status_update.txt", MESSAGE_VARIABLES, "the status page update, in customers' words"),
        TemplateSpec("postmortem", "postmortem.md", POSTMORTEM_VARIABLES, "the postmortem (Markdown)"),
    )
}


@dataclass(frozen=True)
class TemplateProblem:
    """A user template that cannot be used; ``str()`` is one line."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message} — using the shipped template"


class TemplateError(Exception):
    """A shipped template is broken (a bug in the package, not the user's)."""


def shipped_dir() -> Path:
    from clay_cockpit.config import data_path

    return data_path("templates")


def user_dir(templates_dir: str = "") -> Path:
    """``comms.templates_dir`` (``~`` expanded), else the XDG config dir's ``templates``."""
    if templates_dir:
        return Path(templates_dir).expanduser()
    from clay_cockpit.paths import APP_NAME, xdg_config_home

    return xdg_config_home() / APP_NAME / "templates"


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def parse(text: str, spec: TemplateSpec, path: str) -> string.Template | TemplateProblem:
    """Check ``text`` as a template for ``spec``: the template, or the first problem."""
    if not text.strip():
        return TemplateProblem(path, None, "the file is empty")
    tpl = string.Template(text)
    for match in tpl.pattern.finditer(text):
        if match.group("invalid") is not None:
            col = match.start("invalid") - text.rfind("\n", 0, match.start("invalid"))
            return TemplateProblem(
                path,
                _line_of(text, match.start()),
                f"a $ at column {col} starts no placeholder (write $$ for a dollar sign, ${{name}} for a value)",
            )
        name = match.group("named") or match.group("braced")
        if name is not None and name not in spec.variables:
            near = sorted(v for v in spec.variables if v[:3] == name[:3]) or sorted(spec.variables)[:6]
            return TemplateProblem(
                path,
                _line_of(text, match.start()),
                f"unknown placeholder ${name} (known ones include {', '.join(near[:6])}; see the shipped README.md)",
            )
    return tpl


def read_template(path: Path, spec: TemplateSpec) -> string.Template | TemplateProblem:
    """Read and check one template file."""
    shown = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_TEMPLATE_BYTES + 1)
    except OSError as exc:
        return TemplateProblem(shown, None, f"cannot be read ({exc.strerror or exc})")
    if len(raw) > MAX_TEMPLATE_BYTES:
        return TemplateProblem(shown, None, f"larger than {MAX_TEMPLATE_BYTES // 1024} KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return TemplateProblem(shown, raw.count(b"\n", 0, exc.start) + 1, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})")
    return parse(text, spec, shown)


@dataclass(frozen=True)
class Loaded:
    spec: TemplateSpec
    template: string.Template
    path: str
    shipped: bool  # False: the user's override is in use


class Templates:
    """The templates in force: each user override that checks out, else the
    shipped one. ``problems`` holds one line per rejected override (and for
    a configured folder that does not exist). Thread-safe; :meth:`reload`
    picks up edited files."""

    def __init__(self, override_dir: str | Path | None = None, *, shipped: str | Path | None = None, explicit: bool = False) -> None:
        self.override_dir = Path(override_dir) if override_dir is not None else None
        self.shipped_dir = Path(shipped) if shipped is not None else shipped_dir()
        self.explicit = explicit  # the folder was configured: say so when it is missing
        self._lock = threading.Lock()
        self._loaded: dict[str, Loaded] = {}
        self.problems: tuple[TemplateProblem, ...] = ()
        self.reload()

    @classmethod
    def for_config(cls, templates_dir: str = "") -> Templates:
        """The templates for ``config.comms.templates_dir``."""
        return cls(user_dir(templates_dir), explicit=bool(templates_dir))

    def reload(self) -> tuple[TemplateProblem, ...]:
        loaded: dict[str, Loaded] = {}
        problems: list[TemplateProblem] = []
        if self.override_dir is not None and self.explicit and not self.override_dir.is_dir():
            problems.append(TemplateProblem(str(self.override_dir), None, "comms.templates_dir is not a folder"))
        for spec in SPECS.values():
            chosen: Loaded | None = None
            if self.override_dir is not None:
                path = self.override_dir / spec.filename
                if path.is_file():
                    got = read_template(path, spec)
                    if isinstance(got, TemplateProblem):
                        problems.append(got)
                    else:
                        chosen = Loaded(spec, got, str(path), shipped=False)
            if chosen is None:
                path = self.shipped_dir / spec.filename
                got = read_template(path, spec)
                if isinstance(got, TemplateProblem):
                    raise TemplateError(f"shipped template broken: {got.path}:{got.line or ''} {got.message}")
                chosen = Loaded(spec, got, str(path), shipped=True)
            loaded[spec.name] = chosen
        with self._lock:
            self._loaded, self.problems = loaded, tuple(problems)
        return self.problems

    def get(self, name: str) -> Loaded:
        with self._lock:
            return self._loaded[name]

    def render(self, name: str, values: Mapping[str, str]) -> str:
        """The template ``name`` with ``values`` (a missing value renders empty).
        Trailing spaces and leading/trailing blank lines are dropped."""
        loaded = self.get(name)
        full = dict.fromkeys(loaded.spec.variables, "") | {k: str(v) for k, v in values.items() if k in loaded.spec.variables}
        text = loaded.template.substitute(full)
        return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")
