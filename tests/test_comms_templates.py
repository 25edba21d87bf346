"""Templates (shipped, overridden, broken → one line naming file and line and
the shipped one used), the customer-draft check, and the Block Kit message
and preview built from a draft. No network.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clay_cockpit.comms.blocks import (
    MAX_HEADER,
    MAX_SECTION,
    escape,
    plain,
    preview,
    slack_message,
)
from clay_cockpit.comms.check import Level, check_external, check_internal, internal_terms
from clay_cockpit.comms.core import Channel, Comms
from clay_cockpit.comms.templates import (
    MESSAGE_VARIABLES,
    POSTMORTEM_VARIABLES,
    SPECS,
    Templates,
    shipped_dir,
    user_dir,
)
from clay_cockpit.config import CommsConfig, config_from_toml
from clay_cockpit.incident.lifecycle import IncidentStore
from clay_cockpit.runbook import Severity
from clay_cockpit.sim import wiring

T0 = 1_767_225_600.0
VALUES = {v: f"<{v}>" for v in MESSAGE_VARIABLES}


def drill_config(**comms):
    cfg = config_from_toml(wiring.drill_config({name: "http://127.0.0.1:1" for name in wiring.SERVICES}, "kubeconfig"), "drill.toml")
    return replace(cfg, comms=CommsConfig(**comms)) if comms else cfg


def test_every_shipped_template_checks_out_and_the_readme_names_every_value() -> None:
    t = Templates(None)
    assert t.problems == ()
    readme = (shipped_dir() / "README.md").read_text(encoding="utf-8")
    for spec in SPECS.values():
        loaded = t.get(spec.name)
        assert loaded.shipped and Path(loaded.path).name == spec.filename
        assert spec.filename in readme
        used = set(string.Template((shipped_dir() / spec.filename).read_text(encoding="utf-8")).get_identifiers())
        assert used <= spec.variables and used, spec.name
    for name in MESSAGE_VARIABLES | POSTMORTEM_VARIABLES:
        assert f"`{name}`" in readme, name


def test_a_user_override_is_used_and_the_rest_stays_shipped(tmp_path) -> None:
    (tmp_path / "slack_update.txt").write_text("Our own: $severity $$5 for ${headline}\n", encoding="utf-8")
    t = Templates.for_config(str(tmp_path))
    assert t.problems == ()
    assert t.render("slack_update", VALUES) == "Our own: <severity> $5 for <headline>"
    assert not t.get("slack_update").shipped and t.get("slack_summary").shipped


def test_the_xdg_folder_is_the_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "clay-cockpit" / "templates"
    folder.mkdir(parents=True)
    (folder / "status_title.txt").write_text("Trouble with ${external_title}", encoding="utf-8")
    assert user_dir("") == folder
    t = Templates.for_config("")
    assert t.render("status_title", VALUES) == "Trouble with <external_title>" and t.problems == ()


BROKEN = [
    ("invalid_dollar", "line one\nCosts $5 today\n", 2, "starts no placeholder"),
    ("unclosed_brace", "ok\nok\n${severity\n", 3, "starts no placeholder"),
    ("unknown_name", "$severity\n\n*Impact:* $impakt\n", 3, "unknown placeholder $impakt"),
    ("not_utf8", b"fine\nfine\n\xff\xfe broken\n", 3, "not UTF-8"),
    ("empty", "  \n\n", None, "empty"),
]


@pytest.mark.parametrize(("case", "content", "line", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_user_template_is_one_line_and_the_shipped_one_is_used(tmp_path, case, content, line, words) -> None:
    path = tmp_path / "slack_update.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    t = Templates.for_config(str(tmp_path))
    assert len(t.problems) == 1
    problem = str(t.problems[0])
    assert "\n" not in problem and words in problem and problem.endswith("using the shipped template")
    assert problem.startswith(f"{path}:{line}:" if line else f"{path}:")
    assert t.get("slack_update").shipped
    assert t.render("slack_update", VALUES).startswith("<severity> · <status_label> — <headline>")


def test_a_missing_configured_folder_is_reported(tmp_path) -> None:
    t = Templates.for_config(str(tmp_path / "nope"))
    assert [str(p) for p in t.problems] == [f"{tmp_path / 'nope'}: comms.templates_dir is not a folder — using the shipped template"]


def test_comms_uses_the_configured_folder(tmp_path) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "slack_update.txt").write_text("${severity} for ${incident_id}: $current_action\nbody", encoding="utf-8")
    (tmp_path / "tpl" / "status_update.txt").write_text("broken $", encoding="utf-8")
    store = IncidentStore(tmp_path / "state", actor="ana@bastion-1", clock=lambda: T0)
    try:
        store.declare(Severity.P2)
        comms = Comms(drill_config(templates_dir=str(tmp_path / "tpl")), store, clock=lambda: T0)
        assert [p.path for p in comms.problems] == [str(tmp_path / "tpl" / "status_update.txt")]
        draft = comms.draft(Channel.INTERNAL, current_action="rotating the key")
        assert draft.text == f"P2 for {store.incident.id}: rotating the key\nbody"
        assert comms.draft(Channel.EXTERNAL).text.startswith("We are investigating")
    finally:
        store.close()


# --------------------------------------------------------------------------
# The customer-draft check


def test_internal_names_hosts_pods_numbers_and_jargon_are_flagged() -> None:
    cfg = drill_config()
    terms = internal_terms(cfg)
    assert {"clay-sync", "clay-api", "CLAY_FALLBACK_ENABLED", "clay-drill", "#inc-clay-drill"} <= terms
    text = (
        "Pods of clay-sync (clay-sync-7d9f8c6b5f-x2k9q) on 10.0.3.7 and prom.monitoring.svc saw 401 at 27.5/s; "
        "CLAY_FALLBACK_ENABLED is on. See https://grafana.internal/d/abc. Next update at 14:30 UTC on 2026-01-01."
    )
    flags = check_external(text, terms)
    found = {(f.kind, f.text) for f in flags}
    assert {
        ("internal_name", "clay-sync"),
        ("pod", "clay-sync-7d9f8c6b5f-x2k9q"),
        ("host", "10.0.3.7"),
        ("host", "prom.monitoring.svc"),
        ("number", "401"),
        ("number", "27.5/s"),
        ("internal_name", "CLAY_FALLBACK_ENABLED"),
        ("host", "https://grafana.internal/d/abc"),
        ("jargon", "Pods"),
    } <= found, found
    assert all(f.level is Level.WARNING for f in flags)
    assert all(text[f.start : f.end] == f.text for f in flags)
    assert not any(f.text in ("14", "30", "2026") for f in flags)  # times of day and dates are fine


def test_a_customer_worded_text_has_no_flags() -> None:
    text = (
        "We are investigating an issue causing some requests to fail or respond slowly. "
        "Some requests may fail or take longer than usual.\n\nWe will post another update by 00:30 UTC."
    )
    assert check_external(text, internal_terms(drill_config())) == ()


def test_errors_block_empty_and_long_texts_and_secrets_warn() -> None:
    assert [f.kind for f in check_internal("")] == ["empty"]
    long = check_internal("x" * 3001)
    assert [(f.kind, f.level) for f in long] == [("length", Level.ERROR)]
    wide = check_internal("€" * 2500)  # few characters, many bytes: the timeline could not keep it whole
    assert [(f.kind, f.level) for f in wide] == [("length", Level.ERROR)] and "bytes" in wide[0].message
    secret = check_internal("the key is sk_live_ABCDEFGH12345678")
    assert [(f.kind, f.level) for f in secret] == [("secret", Level.WARNING)]


def test_terms_come_from_the_timeline_too(tmp_path) -> None:
    store = IncidentStore(tmp_path, actor="ana@bastion-1", clock=lambda: T0)
    try:
        store.declare(Severity.P1, {"pods": {"not_ready": [{"name": "clay-sync-abc123def-zz9yy", "status": "OOMKilled"}]}})
        terms = internal_terms(None, store.events())
        assert {store.incident.id, "ana@bastion-1", "bastion-1", "clay-sync-abc123def-zz9yy"} <= terms
    finally:
        store.close()


# --------------------------------------------------------------------------
# Block Kit


def test_blocks_header_sections_context_and_fallback() -> None:
    text = "P1 · *Investigating* — Clay answers 401\n*Impact:* every call\n*Respond:* < 15 min & <https://x.test/a|the runbook>\n\n*Next:*\n• rotate"
    msg = slack_message(text, footer="INC-1 · sent from clay-cockpit")
    kinds = [b["type"] for b in msg.blocks]
    assert kinds == ["header", "section", "section", "context"]
    assert msg.blocks[0]["text"] == {"type": "plain_text", "text": "P1 · Investigating — Clay answers 401", "emoji": True}
    assert msg.blocks[1]["text"]["text"] == "*Impact:* every call\n*Respond:* &lt; 15 min &amp; <https://x.test/a|the runbook>"
    assert msg.text.startswith("P1 · *Investigating*") and "&lt; 15 min" in msg.text
    pv = preview(msg)
    assert [p.kind for p in pv] == kinds
    assert pv[1].text.endswith("< 15 min & <https://x.test/a|the runbook>")
    assert pv[1].plain == "Impact: every call\nRespond: < 15 min & the runbook"


def test_blocks_stay_within_slack_limits() -> None:
    """Slack's limits are the only cuts: at a word, marked `` […]``; the
    header's whole line stays in the first section and the fallback is whole."""
    header = "P1 · Investigating — " + "Cloudflare customer dashboard and APIs - Cloudflare APIs " * 6
    body = "\n\n".join(f"line {i} " + "y" * 50 for i in range(80)) + "\n\n" + "z" * 7000
    msg = slack_message(header + "\n" + body, footer="f")
    assert len(msg.blocks) <= 50
    shown = msg.blocks[0]["text"]["text"]
    assert len(shown) <= MAX_HEADER and shown.endswith("Cloudflare […]") and header.startswith(shown.removesuffix(" […]"))
    sections = [b["text"]["text"] for b in msg.blocks if b["type"] == "section"]
    assert all(len(t) <= MAX_SECTION for t in sections)
    assert sections[0] == header.strip()  # the whole first line
    assert sections[-1].endswith(" […]") and "…" not in "".join(sections[:-1])  # the block budget's one cut, marked
    assert "z" * 7000 in msg.text and "line 79" in msg.text  # the fallback (notifications) is whole


def test_a_long_paragraph_continues_in_the_next_block() -> None:
    """No text is dropped below the block budget: a paragraph over 3000
    characters breaks at a space (or, in CJK text without spaces, at the limit)."""
    words = " ".join(f"Company enrichment {i}" for i in range(300))
    cjk = "企业信息补全服务" * 500
    msg = slack_message("P1 · header\n" + words + "\n\n" + cjk)
    sections = [b["text"]["text"] for b in msg.blocks if b["type"] == "section"]
    latin = [t for t in sections if "企" not in t]
    assert all(len(t) <= MAX_SECTION for t in sections) and len(latin) == 3
    assert " ".join(latin).split() == words.split()  # every word, none cut in two
    assert "".join(t for t in sections if "企" in t) == cjk
    ampersands = slack_message("P1 · header\n" + "R&D & ops " * 500)  # escaped, each & takes five characters
    texts = [b["text"]["text"] for b in ampersands.blocks if b["type"] == "section"]
    assert all(len(t) <= MAX_SECTION for t in texts) and " ".join(texts).count("&amp;") == 1000


def test_escape_keeps_slack_forms_and_plain_strips_marks() -> None:
    assert escape("a<b> & <@U123> <!here> <#C1|inc>") == "a&lt;b&gt; &amp; <@U123> <!here> <#C1|inc>"
    assert plain("*bold* _it_ ~gone~ `code` 2*3*4") == "bold it gone code 2*3*4"
    assert re.fullmatch(r"[^*_]+", plain("*_both_*"))


_PIECES = ["<", ">", "&", "!", "@", "#", "|", "here", "channel", "http://x.example", "mailto:a@b", "lt;", "gt;", "amp;", " ", "U1", "\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=20).map("".join))
@example("<!channel> <!everyone> @here <http://evil.example|click> <@U0BOSS> &lt;!here&gt; AT&T <1%")
@example("<")
def test_outside_text_shows_as_written_and_never_forms_a_slack_token(value: str) -> None:
    """Whatever a template value holds, Slack gets it as literal text: the
    only ``<…>`` forms in what is sent are the template's (the responder's) own."""
    from clay_cockpit.comms.blocks import literal

    value = value.replace("\r", "")
    text = "P1 · header\nbefore " + literal(value) + " after <!here> <@U0ONCALL>"
    msg = slack_message(text)
    sections = "\n\n".join(b["text"]["text"] for b in msg.blocks if b["type"] == "section")
    for sent in (msg.text, sections):
        assert re.findall(r"<[^<>]*>", sent) == ["<!here>", "<@U0ONCALL>"], (value, sent)
    assert msg.text.count("<") == 2 and msg.text.count(">") == 2
    if "\n" not in value:  # the preview (what Slack shows) has the value exactly as the outside system wrote it
        assert f"before {value} after <!here> <@U0ONCALL>" in [b.text for b in preview(msg)]
