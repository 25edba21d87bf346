"""Remote text is data, never markup or terminal control (issue 12).

1. The one sanitiser (:mod:`clay_cockpit.sanitise`), property-tested over
   arbitrary code points and over escape sequences built from fragments:
   no control, escape or bidi character survives it; plain text is untouched.
2. Every source's parser makes what it reads inert (status page, status API,
   health, Prometheus labels, pods, log lines, every error message).
3. The cockpit fed hostile text through every source (the fakes of the
   snapshot tests, so the widgets get it raw, unsanitised): it does not
   crash, brackets show literally, no rendered cell carries a link or a
   click action, and no line a widget renders holds an escape, C1 or bidi
   character. The update editor too, filled from those facts.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit.sanitise import UNSAFE, clean, clean_line, clean_tree, is_clean
from clay_cockpit.signals import ErrorKind

ESC = "\x1b"
OSC8 = f"{ESC}]8;;http://evil.example/{ESC}\\link{ESC}]8;;{ESC}\\"
OSC0 = f"{ESC}]0;PWNED-TITLE\x07"
OSC52 = f"{ESC}]52;c;UFdORUQtQ0xJUA==\x07"
CSI_2J = f"{ESC}[2J"
C1_CSI = "\x9b2J"
RLO = "\u202eevil\u202c"
ISOLATE = "\u2066iso\u2069"
ESCAPES = (OSC8, OSC0, OSC52, CSI_2J, C1_CSI, RLO, ISOLATE)
BRACKETS = ("[/]", "[@click=app.quit]Q[/]", "[FILTERED]", "/v1/tables/[table_id]/rows")
# every field gets all of it, the brackets first (a narrow cell still shows "[/]")
HOSTILE = " ".join(BRACKETS) + " " + "".join(ESCAPES) + " end"
# payloads that must never reach a terminal in any form (removed with their sequence)
PAYLOADS = ("evil.example", "PWNED-TITLE", "UFdORUQtQ0xJUA")


# -- 1. the sanitiser ----------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        ESC,
        "[",
        "]",
        "\\",
        "\x07",
        "\x9b",
        "\x9c",
        "\x9d",
        "\x90",
        "\x9f",
        ";",
        "8;;",
        "0;",
        "52;c;",
        "2J",
        "?1049h",
        "31m",
        "P",
        "_",
        "^",
        "X",
        "(",
        "B",
        "c",
        "http://x/",
        "a",
        " ",
        "\n",
        "\r",
        "\t",
        "\x00",
        "\x7f",
        "\x85",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u202e",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "é",
        "日本",
        "🙂",
        "\u200d",
    ]
)
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)))
SEQUENCES = st.lists(FRAGMENTS, max_size=40).map("".join)


def _assert_inert(out: str) -> None:
    bad = UNSAFE.search(out)
    assert bad is None, f"{bad.group()!r} survived in {out!r}"
    assert "\t" not in out and ESC not in out


@settings(max_examples=400, deadline=None)
@given(st.one_of(ANY_TEXT, SEQUENCES, st.tuples(ANY_TEXT, SEQUENCES, ANY_TEXT).map("".join)))
def test_no_control_escape_or_bidi_character_survives(text: str) -> None:
    out = clean(text)
    _assert_inert(out)
    assert is_clean(out)
    assert clean(out) == out  # idempotent: the writers clean again what the sources cleaned
    line = clean_line(text)
    _assert_inert(line)
    assert "\n" not in line


PLAIN = st.text(
    alphabet=st.characters(
        min_codepoint=0,
        max_codepoint=0x10FFFF,
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    )
)


@settings(max_examples=300, deadline=None)
@given(PLAIN)
def test_plain_text_is_untouched(text: str) -> None:
    """Not over-eager: text without control or bidi characters (markup-like brackets, CJK, emoji, joiners) stays as it is."""
    assert clean(text) == text
    assert clean_line(text + "\n" + text) == text + " " + text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (OSC8, "link"),  # the link text stays, the link goes
        (OSC0 + "after", "after"),
        (OSC52 + "after", "after"),
        ("a" + CSI_2J + "b", "ab"),
        ("a" + C1_CSI + "b", "ab"),  # U+009B is CSI too: its whole sequence goes
        (f"{ESC}[31mred{ESC}[0m", "red"),  # a coloured log line keeps its words
        (f"{ESC}P1$r0m{ESC}\\x", "x"),  # DCS
        ("a\u202eb", "a\ufffdb"),  # an override shows as a replacement: the reader sees something was there
        ("\u200fשלום\u200e", "שלום"),  # bidi marks are dropped
        ("a\x00b\x7fc\x85d", "a\ufffdb\ufffdc\ufffdd"),
        ("x\ty", "x   y"),
        ("l1\r\nl2", "l1\nl2"),
        (f"{ESC}]0;no end", "0;no end"),  # unterminated: the introducer goes, the rest is plain text
        ("[/] [b]x[/b]", "[/] [b]x[/b]"),  # markup is not the sanitiser's business: widgets never parse outside text
    ],
)
def test_clean_examples(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def test_clean_tree_cleans_every_string_of_a_message_layout() -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "a" + OSC0}}, ("b" + CSI_2J, 3, None)]
    assert clean_tree(blocks) == [{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}, ("b", 3, None)]


# -- 2. every source makes what it reads inert --------------------------------------------------------


def _strings(value: object) -> list[str]:
    """Every string in a parsed value (dataclasses, tuples, dicts)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if hasattr(value, "__dataclass_fields__"):
        return [s for name in value.__dataclass_fields__ for s in _strings(getattr(value, name))]
    return []


def _statuspage():
    from clay_cockpit.sources.statuspage import parse_summary

    doc = {
        "page": {"name": HOSTILE, "url": "https://status.example"},
        "status": {"indicator": "major", "description": HOSTILE},
        "components": [
            {"id": "g", "name": HOSTILE, "group": True},
            {"id": "c", "name": HOSTILE, "status": "major_outage", "group_id": "g"},
        ],
        "incidents": [
            {
                "id": "i1",
                "name": HOSTILE,
                "status": "investigating",
                "impact": "major",
                "shortlink": HOSTILE,
                "incident_updates": [{"body": HOSTILE + "\nsecond line", "status": "investigating"}],
                "components": [{"name": HOSTILE}],
            }
        ],
    }
    return parse_summary(doc)


def _statusapi():
    from clay_cockpit.sources.statusapi import parse_incident

    return parse_incident(
        {
            "id": "abc",
            "name": HOSTILE,
            "status": HOSTILE,
            "impact": HOSTILE,
            "shortlink": HOSTILE,
            "incident_updates": [{"body": HOSTILE}],
            "components": [{"id": "c1", "name": HOSTILE, "status": HOSTILE}],
        }
    )


def _health():
    from clay_cockpit.sources.health import parse_health

    return parse_health({"status": "down", "version": HOSTILE, "checks": {HOSTILE: {"status": HOSTILE, "detail": HOSTILE}, "db": HOSTILE}})


def _metrics():
    from clay_cockpit.config import QueryConfig
    from clay_cockpit.sources.metrics import build_series

    q = QueryConfig(name="errors_by_code", query="x", label="Clay", unit="req/s")
    metric = {"__name__": "m", "code": HOSTILE, HOSTILE: "v"}
    return build_series(q, [{"metric": metric, "value": [1, "2"]}], [{"metric": metric, "values": [[1, "2"]]}], 10)


def _pods():
    from clay_cockpit.sources.kube import pod_info

    return pod_info(
        {
            "metadata": {"name": HOSTILE, "ownerReferences": [{"kind": "ReplicaSet", "name": HOSTILE, "controller": True}]},
            "spec": {"nodeName": HOSTILE, "containers": [{}]},
            "status": {
                "phase": HOSTILE,
                "containerStatuses": [
                    {"state": {"waiting": {"reason": HOSTILE}}, "lastState": {"terminated": {"reason": HOSTILE}}, "restartCount": 2}
                ],
            },
        }
    )


def _log_lines():
    from clay_cockpit.sources._kubelogs import split_log_line

    return [split_log_line("2024-05-02T12:30:53.123456789Z " + HOSTILE)[0], split_log_line(HOSTILE)[0]]


def _errors():
    from clay_cockpit.sources._errors import body_snippet, make_error, one_line

    return [one_line(HOSTILE), body_snippet(HOSTILE.encode(), 400), make_error("kube", ErrorKind.BAD_RESPONSE, HOSTILE, HOSTILE)]


@pytest.mark.parametrize(
    "parse",
    [_statuspage, _statusapi, _health, _metrics, _pods, _log_lines, _errors],
    ids=["statuspage", "statusapi", "health", "metrics-labels", "pods", "log-lines", "errors"],
)
def test_every_source_makes_what_it_reads_inert(parse) -> None:
    texts = _strings(parse())
    assert any("[/]" in t for t in texts), texts  # the text is there, brackets and all
    for text in texts:
        _assert_inert(text.replace("\n", " "))
        assert not any(p in text for p in PAYLOADS), text


def test_a_log_line_body_is_one_line() -> None:
    from clay_cockpit.sources._kubelogs import split_log_line

    assert split_log_line("2024-05-02T12:30:53Z a\x0bb\x1c")[0] == "a\ufffdb\ufffd"


def test_the_postmortem_holds_no_control_character(tmp_path) -> None:
    """The postmortem (the file and `clay-cockpit postmortem`'s stdout): outside text in the timeline is written inert."""
    from clay_cockpit.incident.lifecycle import IncidentStore
    from clay_cockpit.incident.postmortem import build_postmortem
    from clay_cockpit.incident.timeline import EventKind
    from clay_cockpit.runbook import Severity

    now = 1_700_000_000.0
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: now)
    store.declare(Severity.P2, {"summary": HOSTILE})
    store.tick("check_status_page", auto=True, seen=HOSTILE)
    store.record(EventKind.ACTION_APPLIED, HOSTILE, {"action_id": "run-1", "confirmed_by": HOSTILE})
    store.note(HOSTILE)
    path = store.timeline.path
    store.close()
    text = build_postmortem(path, now=now + 600).text
    assert "[/]" in text
    _assert_inert(text.replace("\n", " "))
    assert not any(p in text for p in PAYLOADS)
