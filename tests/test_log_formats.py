"""Log formats (issue 15): JSON, logfmt and ANSI-coloured lines.

The parsing (clay_cockpit.triage.logformat), the colour-keeping sanitiser
(sanitise.clean_line_colour), the decoding into styles (widgets.logs) with
real-looking lines from zap, zerolog, pino, logrus and slog, hostile ones,
a property over any text, the logs pane drawing them and triage reading a
JSON line's fields.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.segment import Segment
from test_sanitise import ESCAPES, FRAGMENTS, HOSTILE, PAYLOADS
from textual.app import App, ComposeResult
from textual.color import Color

from clay_cockpit.sanitise import SGR, UNSAFE, clean_line, clean_line_colour, is_clean, strip_sgr
from clay_cockpit.signals import LogLine
from clay_cockpit.sources._kubelogs import split_log_line
from clay_cockpit.triage.logformat import fields, level_of, shape
from clay_cockpit.triage.logs import log_evidence
from clay_cockpit.widgets.logs import LogsPane, LogView, colour_spans

ESC = "\x1b"
ZAP = '{"level":"error","ts":1733450000.123,"caller":"clay/client.go:88","msg":"clay call","status":503,"error":"upstream connect error"}'
ZEROLOG = '{"level":"warn","pod":"web-1","time":"2024-12-06T04:13:12Z","message":"slow clay call","duration_ms":812}'
PINO = '{"level":50,"time":1733450000123,"pid":7,"hostname":"web-1","msg":"request failed","err":{"type":"Error","message":"boom"}}'
SLOG = '{"time":"2024-12-06T04:13:12Z","level":"INFO","msg":"clay call","status":200,"path":"/v1/tables"}'
GCP = '{"severity":"CRITICAL","message":"out of memory","rss_mb":510}'
LOGRUS = f"{ESC}[31mERRO{ESC}[0m[0042] clay call failed                              {ESC}[31mstatus{ESC}[0m=503"
LOGRUS_WARN = f"{ESC}[33mWARN{ESC}[0m[0042] retrying"
LOGFMT = 'time="2024-12-06T04:13:12Z" level=warning msg="slow clay call" status=200 duration_ms=812'


# -- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level", "label", "text"),
    [
        (ZAP, "error", "ERROR", 'clay call caller=clay/client.go:88 status=503 error="upstream connect error"'),
        (ZEROLOG, "warn", "WARN", "slow clay call pod=web-1 duration_ms=812"),
        (PINO, "error", "ERROR", 'request failed pid=7 hostname=web-1 err={"type":"Error","message":"boom"}'),
        (SLOG, "", "INFO", "clay call status=200 path=/v1/tables"),
        (GCP, "error", "CRITICAL", "out of memory rss_mb=510"),
        (LOGFMT, "warn", "", LOGFMT),
        ("ERRO[0042] clay call failed", "error", "", "ERRO[0042] clay call failed"),
        ("[WARN] disk low", "warn", "", "[WARN] disk low"),
        ("Alerting rules loaded", "", "", "Alerting rules loaded"),
        ("{not json", "", "", "{not json"),
        ('{"msg":"no level"}', "", "", "no level"),
    ],
)
def test_a_line_is_shown_by_its_format(line: str, level: str, label: str, text: str) -> None:
    got = shape(line)
    assert (got.level, got.label, got.text) == (level, label, text)
    assert level_of(line) == level


def test_the_time_field_of_a_json_line_is_not_repeated() -> None:
    assert "1733450000" not in shape(ZAP).text
    assert "2024-12-06" not in shape(SLOG).text


def test_triage_reads_a_json_lines_fields_like_logfmt() -> None:
    assert fields(ZEROLOG)["msg"] == "slow clay call"  # "message" is msg
    assert fields(GCP)["level"] == "CRITICAL"  # "severity" is level
    assert fields(ZAP)["status"] == "503"
    assert fields(LOGFMT) == {
        "time": "2024-12-06T04:13:12Z",
        "level": "warning",
        "msg": "slow clay call",
        "status": "200",
        "duration_ms": "812",
    }
    t0 = datetime(2024, 12, 6, 4, 13, tzinfo=UTC)
    lines = tuple(
        LogLine(
            "web-1", f'{{"level":"error","msg":"clay call","status":{503 if i % 2 else 200},"duration_ms":40}}', t0 + timedelta(seconds=i)
        )
        for i in range(12)
    )
    ev = log_evidence(lines)
    assert ev is not None and (ev.calls, ev.failed, ev.per_code) == (12, 6, {503: 6})


def test_json_values_that_spell_escapes_stay_inert() -> None:
    line = r'{"level":"error","msg":"a\u001b]52;c;UFdORUQtQ0xJUA==\u0007b \u202eevil","k\u001b[2J":"\u009b2J"}'
    got = shape(line)
    assert is_clean(got.text) and "UFdORUQtQ0xJUA" not in got.text
    assert all(is_clean(k) and is_clean(v) for k, v in fields(line).items())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.lists(st.one_of(FRAGMENTS, st.characters()), max_size=6).map("".join),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["level", "msg", "message", "severity", "ts", "k", "\x1b[2J", "\u202e"]), JSON_VALUES, max_size=6))
def test_any_json_line_is_shown_and_read_clean(obj: dict) -> None:
    import json

    line = clean_line(json.dumps(obj))  # what the follower hands on: JSON escapes (\\u001b) survive it
    got = shape(line)
    assert is_clean(got.label) and is_clean(got.text) and "\n" not in got.text
    assert got.level in ("", "warn", "error")
    assert all(is_clean(k) and is_clean(v) for k, v in fields(line).items())


# -- colour -----------------------------------------------------------------------------------------


def test_colour_is_kept_and_decoded_and_the_level_found() -> None:
    kept = clean_line_colour(LOGRUS)
    assert kept == LOGRUS  # nothing but SGR in it: kept as it is
    text, spans = colour_spans(LOGRUS)
    assert text == clean_line(LOGRUS) == strip_sgr(LOGRUS)
    assert text.startswith("ERRO[0042] clay call failed")
    assert [(a, b) for a, b, _ in spans] == [(0, 4), (text.index("status"), text.index("status") + 6)]
    assert all(style.color is not None and style.color.number == 1 for _, _, style in spans)  # red
    assert level_of(text) == "error" and level_of(strip_sgr(LOGRUS_WARN)) == "warn"
    assert clean_line_colour("plain text") is None and clean_line_colour(f"{ESC}[2Jno colour") is None


@pytest.mark.parametrize("hostile", ESCAPES, ids=["osc8", "osc0", "osc52", "csi-2j", "c1-csi", "rlo", "isolate"])
def test_only_sgr_survives_beside_colour(hostile: str) -> None:
    line = f"{ESC}[1;31mERROR{ESC}[0m {hostile} {ESC}[3A{ESC}[10;5H{ESC}[?1049h tail"
    kept = clean_line_colour(line)
    assert kept is not None
    assert strip_sgr(kept) == clean_line(line)
    assert is_clean(strip_sgr(kept))
    text, spans = colour_spans(line)
    assert is_clean(text) and not any(p in text for p in PAYLOADS)
    assert spans and all(style.link is None and not style.reverse and not style.conceal for _, _, style in spans)


def test_hidden_reversed_or_background_colour_is_not_kept() -> None:
    text, spans = colour_spans(f"{ESC}[8msecret{ESC}[0m {ESC}[7;41mrev{ESC}[0m {ESC}[30;40mdark{ESC}[0m")
    assert text == "secret rev dark"
    assert all(not st.conceal and not st.reverse and st.bgcolor is None for _, _, st in spans)


def test_a_followed_pod_log_keeps_its_colour_beside_the_clean_text(sim) -> None:
    """Over the drill's Kubernetes API (real HTTPS, the official client): a
    coloured line with an OSC 52 clipboard write in it arrives with its
    text clean and its colour, nothing else, kept aside."""
    from test_sources_logs import Follow, pod_names, source

    pod = sorted(pod_names(sim))[0]
    line = LOGRUS + " " + ESCAPES[2] + f"{ESC}[2J"
    with Follow(source(sim)) as f:
        f.wait_for(lambda: any(ln.pod == pod for ln in f.lines()), what="the pod's lines")
        sim._loop.call_soon_threadsafe(sim._drill.world.kube.log, pod, line)
        f.wait_for(lambda: any(ln.styled for ln in f.lines()), what="the coloured line")
    got = next(ln for ln in f.lines() if ln.styled)
    assert got.text == clean_line(line) and is_clean(got.text)
    assert got.styled == clean_line_colour(line) and "UFdORUQtQ0xJUA" not in got.styled
    assert strip_sgr(got.styled) == got.text and ESC + "[2J" not in got.styled
    assert [ln for ln in f.lines() if ln.styled] == [got]  # plain lines carry no copy


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(FRAGMENTS, st.sampled_from(["31m", "1;38;5;196m", "38:2::255:0:0m", "0m", "m"]), st.text(max_size=4)), max_size=30)
)
def test_any_text_decodes_to_clean_styled_text(parts: list[str]) -> None:
    line = "".join(parts)
    kept = clean_line_colour(line)
    if kept is not None:
        assert strip_sgr(kept) == clean_line(line) or "\r" in line  # a CR beside a removed sequence may differ
        assert is_clean(SGR.sub("", kept)) and UNSAFE.search(SGR.sub("", kept)) is None
    text, spans = colour_spans(line)
    assert is_clean(text) and "\n" not in text
    for a, b, style in spans:
        assert 0 <= a < b <= len(text)
        assert style.link is None and not style.meta and style.bgcolor is None


# -- the pane ---------------------------------------------------------------------------------------


class LogsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogsPane(100, id="logs")


T0 = datetime(2024, 12, 6, 4, 13, 12, tzinfo=UTC)


def pane_lines() -> tuple[LogLine, ...]:
    def line(pod: str, raw: str, i: int) -> LogLine:
        text, _, _ = split_log_line(raw)
        return LogLine(pod, text, T0 + timedelta(seconds=i), styled=clean_line_colour(raw))

    return (
        line("web-7d9f-abcde", LOGRUS, 0),
        line("web-7d9f-abcde", LOGRUS_WARN, 1),
        line("web-7d9f-fghij", ZAP, 2),
        line("web-7d9f-fghij", SLOG, 3),
        line("web-7d9f-fghij", LOGFMT, 4),
        line("web-7d9f-abcde", f"{ESC}[32mINFO{ESC}[0m " + HOSTILE, 5),
    )


def rendered(view: LogView) -> list[list[Segment]]:
    return [list(view.render_line(y)) for y in range(view.size.height)]


@pytest.mark.asyncio
async def test_the_pane_draws_colour_and_compact_json_and_nothing_else(tmp_path) -> None:
    app = LogsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogsPane)
        pane.append(pane_lines(), 0.0)
        await pilot.pause(0.2)
        view = pane.view
        rows = rendered(view)
        texts = ["".join(s.text for s in row) for row in rows]
        shown = "\n".join(texts)
        assert "ERROR clay call caller=clay/client.go:88 status=503" in shown  # the zap line, compact
        assert '"ts"' not in shown and "ERRO[0042] clay call failed" in shown
        assert is_clean(shown.replace("\n", "")) and not any(p in shown for p in PAYLOADS)
        assert all(seg.style is None or seg.style.link is None for row in rows for seg in row)
        # the logrus level word in its own red, the line in the error colour
        erro = next(seg for row in rows for seg in row if seg.text == "ERRO")
        assert erro.style is not None and erro.style.color is not None and erro.style.color.number == 1
        json_row = next(row for row in rows if "clay/client.go" in "".join(s.text for s in row))
        label = next(seg for seg in json_row if seg.text == "ERROR")
        assert label.style is not None and label.style.bold
        # the filter finds a JSON line by a key it shows and by its raw JSON
        view.set_filter('"caller"')
        await pilot.pause(0.1)
        assert view.shown_count == 1
        view.set_filter("status=503")  # the zap line as shown, and the logrus line
        await pilot.pause(0.1)
        assert view.shown_count == 2
        view.set_filter("")
        await pilot.pause(0.1)
        app.save_screenshot(str(tmp_path / "logs.svg"))


@pytest.mark.asyncio
async def test_no_color_drops_the_colours_and_keeps_the_text(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LogsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogsPane)
        pane.append(pane_lines(), 0.0)
        await pilot.pause(0.2)
        assert app.no_color
        filters = app.get_line_filters()  # what Textual applies to every line a widget draws
        assert filters
        rows = rendered(pane.view)
        texts = ["".join(s.text for s in row) for row in rows]
        assert any("ERRO[0042] clay call failed" in t for t in texts)
        erro = [next(seg for row in rows for seg in row if seg.text == "ERRO")]
        for f in filters:
            erro = f.apply(erro, Color(0, 0, 0))
        colour = erro[0].style.color if erro[0].style else None
        assert colour is None or len(set(colour.get_truecolor())) == 1  # no colour, or a grey


def test_the_logs_pane_at_80x24(snap_compare) -> None:
    """The logs pane at 80x24 with each format:
    - a logrus line: "ERRO" in ANSI red, "[0042] clay call failed" in the
      error colour, its "status" key red again (wrapped under the text);
    - a logrus warning: "WARN" in ANSI yellow, the rest in the warning colour;
    - a zap JSON line, compact: bold "ERROR", then "clay call
      caller=clay/client.go:88 status=503 error=…" (no "ts", no braces), in
      the error colour; a slog INFO line the same way, uncoloured;
    - a logfmt line as it is, in the warning colour;
    - a green "INFO" and the hostile text: brackets literal, "link", the bidi
      overrides as �, no payload, nothing else moved or hidden."""
    app = LogsApp()

    async def fill(pilot) -> None:
        app.query_one(LogsPane).append(pane_lines(), 0.0)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(80, 24), run_before=fill)


def test_a_zap_coloured_json_level_is_read() -> None:
    """zap's colour encoder (and the drill's `log_colour` with `log_format = "json"`)
    puts the SGR inside the level value, escaped as JSON writes a control character."""
    line = '{"level":"\\u001b[31merror\\u001b[0m","msg":"clay call failed","status":502,"seq":7}'
    assert clean_line(line) == line  # nothing to remove: the escape is six printable characters
    assert level_of(line) == "error"
    s = shape(line)
    assert (s.level, s.label) == ("error", "ERROR") and "\x1b" not in s.text and "u001b" not in s.text, s
    assert level_of('{"level":"\\u001b[33mwarn\\u001b[0m","msg":"slow"}') == "warn"


def test_how_a_line_shows_is_prepared_off_the_ui_thread_and_used_as_is() -> None:
    """The follow prepares each line (widgets.logs.prepare, in its own thread) and the pane
    places what was prepared without computing it again; a prepared line is still equal
    to the same line unprepared, and a batch keeps its follow state."""
    import threading

    from clay_cockpit.live import LogFollow
    from clay_cockpit.signals import LogFollowState, LogLines
    from clay_cockpit.widgets.logs import Shown, prepare, shown

    line = LogLine("clay-sync-7d9f8c6b5-x2x9k", '{"level":"error","msg":"clay call failed","status":401,"seq":3}')
    batch = prepare(LogLines([line], LogFollowState(pods=1)))
    assert isinstance(batch, LogLines) and batch.state == LogFollowState(pods=1)
    got = batch[0].prepared
    assert isinstance(got, Shown) and got.text == "ERROR clay call failed status=401 seq=3" and got.level == "error"
    assert batch[0] == line, "prepared is not part of the line's value"
    assert shown(batch[0]) is got
    marked = LogLine(line.pod, line.text, prepared=Shown("as prepared", (), "as prepared", "warn", 11))
    entry = LogView(10)._entry(marked)
    assert (entry.text, entry.level, entry.folded) == ("as prepared", "warn", f"{line.pod} as prepared"), "the pane used what was prepared"

    threads: list[str] = []

    def on_thread(lines: tuple[LogLine, ...]) -> tuple[LogLine, ...]:
        threads.append(threading.current_thread().name)
        return prepare(lines)

    class Kube:
        def follow_logs(self, on_batch, on_error, stop, flush) -> None:
            on_batch(LogLines([line], None))
            stop.set()

    class Sources:
        kube = Kube()

    got_batches: list[tuple[LogLine, ...]] = []
    follow = LogFollow(
        Sources(), buffer=10, stop=threading.Event(), clock=lambda: 0.0, set_timer=lambda *_a: None,
        start=lambda: None, on_flush=lambda *_a: None, prepare=on_thread,
    )  # fmt: skip
    worker = threading.Thread(target=follow.follow, args=(got_batches.append, lambda _e: None, lambda: None), name="follow-worker")
    worker.start()
    worker.join(5)
    assert threads == ["follow-worker"] and isinstance(got_batches[0][0].prepared, Shown)
