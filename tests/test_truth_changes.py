"""What changed, said truly (issue 14): a ConfigMap or Secret no one wrote
since it was made is "created" (its managedFields hold only the creator's
entry, at creationTimestamp), not "changed" at its creation time; and the
rollout names who made it, whole, where the infra view and triage's reason
show it ("rollout to 1.14.3 (revision 3) by ci-deploy")."""

from __future__ import annotations

import re
from pathlib import Path

from test_triage import NOW, TH, live, signals
from test_triage_infra import BAD_PODS, HEALTH_DOWN, NEW_RS, OLD_RS, event, rev, snapshot, with_infra
from test_watch_infra import T0, feed, node, snap
from test_watch_infra import rev as wrev

from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.watch import Watch
from clay_cockpit.signals import Change
from clay_cockpit.sources.kube_infra import config_change, epoch
from clay_cockpit.triage.tree import assess


def test_a_config_written_only_at_its_creation_was_created() -> None:
    # as the drill seeds them (and as kubectl create writes them): one entry, at creationTimestamp
    meta = {
        "name": "clay-sync-flags",
        "creationTimestamp": "2025-11-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl-create", "operation": "Update", "time": "2025-11-01T00:00:00Z"}],
    }
    c = config_change("ConfigMap", meta)
    assert (c.summary, c.at) == ("ConfigMap clay-sync-flags created", epoch("2025-11-01T00:00:00Z"))
    assert c.detail == ("kubectl-create update at 2025-11-01T00:00:00Z",)
    # an apply and the server's own entry in the same second: still its creation
    meta["managedFields"].append({"manager": "kube-apiserver", "operation": "Update", "time": "2025-11-01T00:00:01Z"})
    assert config_change("ConfigMap", meta).summary == "ConfigMap clay-sync-flags created"
    # written later: changed, at the later time
    meta["managedFields"].append({"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-01T00:07:00Z"})
    c = config_change("ConfigMap", meta)
    assert (c.summary, c.at) == ("ConfigMap clay-sync-flags changed", epoch("2026-01-01T00:07:00Z"))


def test_triage_names_who_rolled_out() -> None:
    rollout = Change(NOW - 660, "rollout", "rollout to 1.14.3 (revision 7) by ci-deploy", ("image app: 1.14.2 → 1.14.3",), by="ci-deploy")
    probe = event("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", first=NOW - 600)
    revisions = (rev(7, NEW_RS, "1.14.3", NOW - 660, current=True), rev(6, OLD_RS, "1.14.2", NOW - 86_400))
    sig = with_infra(
        signals(health_=live(HEALTH_DOWN), pods_=live(BAD_PODS)), live(snapshot((probe,), revisions=revisions, changes=(rollout,)))
    )
    a = assess(sig, TH, NOW)
    said = [r.text for f in a.findings for r in f.reasons if r.source == "infra"]
    assert any(
        t.startswith("Changes: rollout to 1.14.3 (revision 7) by ci-deploy 11 min ago (image app: 1.14.2 → 1.14.3)") for t in said
    ), said
    rollback = next(x for x in a.todo if x.id.value == "rollback")
    assert rollback.why == "the trouble began after the rollout to 1.14.3 (revision 7) by ci-deploy"


def test_the_timeline_says_who_once() -> None:
    w = Watch()
    assert feed(w, snap(revisions=(wrev(6, "1.14.2"),))) == []
    change = Change(T0 + 50, "rollout", "rollout to 1.14.3 (revision 7) by ci-deploy", ("image app: 1.14.2 → 1.14.3",), by="ci-deploy")
    got = feed(w, snap(revisions=(wrev(7, "1.14.3"), wrev(6, "1.14.2")), changes=(change,)), T0 + 60)
    assert [n.summary for n in got] == ["rollout to 1.14.3 (revision 7) by ci-deploy"]
    assert got[0].kind == EventKind.ROLLOUT_SEEN and got[0].data["detail"] == ["image app: 1.14.2 → 1.14.3"]


DOCS = Path(__file__).parent.parent / "docs" / "events.md"


def _documented(kind: str) -> set[str]:
    """The data keys docs/events.md's table lists for ``kind`` (the table after the section naming it)."""
    text = DOCS.read_text(encoding="utf-8")
    keys: set[str] = set()
    for section in text.split("\n## ")[1:]:
        head = section.split("\n", 1)[0]
        if f"`{kind}`" not in head:
            continue
        for block in section.split("`data` (")[1:]:
            names, _, rest = block.partition(")")
            if f"`{kind}`" in names or (kind.startswith("node_") and "node kinds" in names):
                keys |= {m for m in re.findall(r"^\| `(\w+)` \|", rest, flags=re.M)}
    return keys


def test_docs_events_describe_the_node_and_rollout_kinds_as_the_watch_writes_them() -> None:
    w = Watch()
    moments = feed(w, snap((node(),), (wrev(6, "1.14.2"),)))
    moments += feed(w, snap((node(ready=False, pressure=("MemoryPressure",), message="Kubelet stopped posting node status."),)), T0 + 10)
    moments += feed(w, snap((node(),)), T0 + 20)
    change = Change(T0 + 50, "rollout", "rollout to 1.14.3 (revision 7) by ci-deploy", ("image app: 1.14.2 → 1.14.3",), by="ci-deploy")
    moments += feed(w, snap((node(),), (wrev(7, "1.14.3"), wrev(6, "1.14.2")), (change,)), T0 + 30)
    kinds = {m.kind for m in moments}
    new = {EventKind.NODE_NOT_READY, EventKind.NODE_READY, EventKind.NODE_PRESSURE, EventKind.NODE_PRESSURE_ENDED, EventKind.ROLLOUT_SEEN}
    assert kinds == new, kinds
    for m in moments:
        documented = _documented(m.kind.value)
        assert documented, f"docs/events.md does not describe {m.kind.value}"
        assert set(m.data) <= documented, (m.kind.value, set(m.data) - documented)
