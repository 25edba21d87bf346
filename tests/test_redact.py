"""The one redactor: a registered credential never survives any text, in any
form an exception shows it (raw, trimmed, repr-escaped, base64), through
SourceError construction, scrub and the log filter."""

from __future__ import annotations

import io
import logging

from hypothesis import given, settings
from hypothesis import strategies as st

from clay_cockpit import redact as r
from clay_cockpit.signals import ErrorKind, SourceError
from clay_cockpit.sources._errors import make_error, unexpected

SECRET = "kube-T0ken-a1b2c3d4e5f6"
r.register(SECRET + "\n", "kube token")

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(before=_text, after=_text, form=st.sampled_from(["raw", "repr", "header", "b64"]))
def test_a_registered_credential_never_survives(before: str, after: str, form: str) -> None:
    import base64

    shown = {
        "raw": SECRET,
        "repr": repr(("Bearer " + SECRET + "\n").encode()),
        "header": f"Authorization: Bearer {SECRET}",
        "b64": base64.b64encode((SECRET + "\n").encode()).decode(),
    }[form]
    text = before + shown + after
    assert SECRET not in r.redact(text)
    err = SourceError("kube", ErrorKind.BAD_RESPONSE, text, text)
    assert SECRET not in err.line()
    assert SECRET not in make_error("kube", ErrorKind.UNREACHABLE, text, text).line()
    assert SECRET not in unexpected("kube", ValueError(f"Invalid header value {shown}"), "pods").line()


def test_the_log_filter_redacts_messages_args_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = r.install_log_filter(logging.StreamHandler(stream))
    log = logging.getLogger("test.redact")
    log.addHandler(handler)
    try:
        log.warning("token is %s", SECRET)
        try:
            raise ValueError(f"Invalid header value b'Bearer {SECRET}\\n'")
        except ValueError:
            log.exception("request failed")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert SECRET not in out and "[redacted]" in out and "request failed" in out


def test_prose_and_names_stay() -> None:
    for text in (
        "no Slack token: $CLAY_DRILL_SLACK_TOKEN is not set",
        "token refused (expired/revoked)",
        "token_env = SLACK_BOT_TOKEN",
        "429 rate 38/s over 5 min",
    ):
        assert r.redact(text) == text


def test_a_length_limit_never_leaves_half_a_credential() -> None:
    """Redacted first, cut after: a credential straddling the limit loses its first half too."""
    from clay_cockpit.sources._errors import body_snippet
    from clay_cockpit.sources._errors import one_line as source_line

    cut = 80
    for offset in range(7, len(SECRET)):  # the credential starts `offset` characters before the cut
        text = "x" * (cut - offset - 1) + f" {SECRET} in the request"
        for shown in (source_line(text, cut), body_snippet(text, cut), body_snippet(text.encode(), cut)):
            assert SECRET[: offset - 1] not in shown, (offset, shown)
