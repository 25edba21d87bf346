"""How a timeline event is drawn: its glyph says how it went."""

from __future__ import annotations

from clay_cockpit.incident.timeline import Event, EventKind
from clay_cockpit.widgets.timeline import event_content


def drawn(kind: EventKind, **data) -> str:
    return event_content(Event(seq=1, at=0.0, kind=kind, summary="Key in Secret clay-api (sha256:ab12): …", actor="ana@b", data=data)).plain


def test_a_key_check_clay_refused_is_not_drawn_as_a_success() -> None:
    assert " ✗ Key in Secret" in drawn(EventKind.ACTION_VERIFIED, valid=False)
    assert " ✓ Key in Secret" in drawn(EventKind.ACTION_VERIFIED, valid=True)
    assert " ✓ " in drawn(EventKind.ACTION_VERIFIED)  # an action verified after it applied (no key involved)
    assert " ✗ " in drawn(EventKind.ACTION_FAILED)
