"""Several responders, one incident (issue 17): cockpits on one drill, each
with its own state dir, sharing the incident through the drill's
Kubernetes API (HTTPS, the official client) — driven from the keyboard.

- ``test_two_responders_work_one_incident``: ana declares; bob's cockpit
  joins it (nobody declares twice); bob ticks, ana sets the severity, bob
  takes command in the people view (``W``, ``c``), ana hands it back; ana's
  internal update opens the Slack thread and bob's goes into the same
  thread, the summary at its top updated; ana resolves and bob sees it, the
  cluster's pointer says resolved. Each change is seen by the other within
  seconds. Every event is once in the cluster and in both local copies.
- ``test_a_partitioned_responder_keeps_working_and_heals``: bob's API access
  goes through a cable that is cut: his badge says ``⇄ LOCAL``, his tick
  stays local; mended, ana sees it — nothing lost, nothing twice. A third
  cockpit in read-only mode sees the incident, is present, adds nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from test_app_actions_support import Drill, ready, type_text, until
from test_app_actions_support import own_state_dir as own_state_dir
from test_app_comms import settled
from test_shared_sync_drill import Cable

from clay_cockpit.incident.events import EventKind
from clay_cockpit.incident.timeline_read import iter_events
from clay_cockpit.screens.choose import ChoiceScreen
from clay_cockpit.screens.compose import ComposeScreen
from clay_cockpit.screens.pages_view import NoteScreen, PagesScreen
from clay_cockpit.screens.people_view import PeopleScreen
from clay_cockpit.sources.kube import Kube
from clay_cockpit.sources.kube_incident import POINTER, SharedIncidents, head_name

MANAGED = "app.kubernetes.io/managed-by=clay-cockpit"

pytestmark = pytest.mark.asyncio
SIZE = (100, 30)
SEEN_WITHIN = 6.0  # seconds: the issue asks for 2 s; a loaded CI machine gets room, the measured times are printed


def cockpit(sim, tmp_path: Path, monkeypatch, name: str, *, kubeconfig: str = "", read_only: bool = False) -> Drill:
    data = copy.deepcopy(sim.config_dict())
    data["shared"] = {"responder": f"{name}@drill", "heartbeat": 1.0}
    if kubeconfig:
        data["kube"]["kubeconfig"] = kubeconfig
    monkeypatch.setattr(sim, "config_dict", lambda: data)
    return Drill(sim, tmp_path / name, read_only=read_only)


def badge(drill: Drill) -> str:
    return str(drill.app.main_screen.shared_badge.content)


def incident(drill: Drill):
    return drill.app._desk.recorder.incident


def ids_of(drill: Drill) -> Counter[str]:
    """The global ids of every event in the cockpit's local file (its own by its sync id, adopted ones by _id)."""
    desk = drill.app._shared
    path = drill.app._desk.timeline_path()
    cockpit_id = desk._sync.cockpit  # the id its own events carry in the cluster
    return Counter(e.data.get("_id") or f"{cockpit_id}:{e.seq}" for e in iter_events(path) if e.kind != EventKind.INCIDENT_MERGED)


def cluster_ids(sim, incident_id: str) -> Counter[str]:
    store = SharedIncidents(Kube(_kube_config(sim)))
    got = store.read_events(incident_id)
    assert isinstance(got, list), got
    return Counter(json.loads(line)["id"] for line in got)


def _kube_config(sim):
    from clay_cockpit.config import config_from_toml

    return config_from_toml(sim.config_dict(), "drill.toml").kube


async def seen(pilot, cond, what: str, timings: dict[str, float], started: float | None = None) -> None:
    """Wait for what the other cockpit should see; note how long after ``started`` (the key press) it was."""
    started = time.monotonic() if started is None else started
    await until(pilot, cond, timeout=30, what=what)
    timings[what] = round(time.monotonic() - started, 2)


@pytest.mark.scenario("key-revoked")
async def test_two_responders_work_one_incident(sim, tmp_path, monkeypatch) -> None:
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    sim.advance(40)
    base = copy.deepcopy(sim.config_dict())
    ana = cockpit(sim, tmp_path, monkeypatch, "ana")
    monkeypatch.setattr(sim, "config_dict", lambda: base)
    bob = cockpit(sim, tmp_path, monkeypatch, "bob")
    timings: dict[str, float] = {}
    async with ana.app.run_test(size=SIZE) as pa, bob.app.run_test(size=SIZE) as pb:
        await ready(pa, ana)
        await ready(pb, bob)
        await until(pa, lambda: ana.app._shared.view.state == "shared", what="ana connected")
        assert not ana.app.main_screen.shared_badge.display, "no incident yet: the badge keeps its room"

        # ana declares; bob joins it, nobody declares twice
        await until(pa, lambda: settled(ana.app), what="ana's triage to settle")
        started = time.monotonic()
        await pa.press("i")
        await until(pa, lambda: ana.app._desk.recorder.open is not None and not ana.app._desk.busy, what="ana's declaration")
        inc_id = incident(ana).id
        await seen(pb, lambda: incident(bob) is not None and incident(bob).id == inc_id, "bob joined", timings, started)
        assert ana.app._desk.recorder.store.declared_here == inc_id and bob.app._desk.recorder.store.declared_here is None
        await until(pb, lambda: badge(bob) == "⇄ 2" and badge(ana) == "⇄ 2", what="both present")
        await pb.press("i")  # bob declaring again finds it open
        assert incident(bob).id == inc_id

        # bob ticks (or unticks) an item of step 3; ana sees the same
        before = dict(incident(bob).ticks)
        started = time.monotonic()
        await pb.press("c", "3", "space")
        await until(pb, lambda: dict(incident(bob).ticks).keys() != before.keys(), what="bob's tick")
        changed = next(iter(dict(incident(bob).ticks).keys() ^ before.keys()))
        now_ticked = changed in incident(bob).ticks
        await seen(pa, lambda: (changed in incident(ana).ticks) == now_ticked, "ana sees bob's tick", timings, started)
        assert incident(ana).ticks.get(changed, None) == incident(bob).ticks.get(changed, None)

        # ana sets P2; bob sees it
        started = time.monotonic()
        await pa.press("s")
        await until(pa, lambda: isinstance(ana.app.screen, ChoiceScreen), what="ana's severity picker")
        await pa.press("2")
        await seen(pb, lambda: incident(bob).severity == "P2", "bob sees P2", timings, started)
        assert incident(ana).severity == "P2"

        # bob takes command in the people view; ana sees it; ana takes it back
        await pb.press("escape", "W")
        await until(pb, lambda: isinstance(bob.app.screen, PeopleScreen), what="bob's people view")
        await until(pb, lambda: len(bob.app._shared.view.responders) == 2, what="two responders listed")
        started = time.monotonic()
        await pb.press("c")
        await seen(pa, lambda: incident(ana).commander == "bob@drill", "ana sees bob in command", timings, started)
        started = time.monotonic()
        await pa.press("W", "c")
        await seen(pb, lambda: incident(bob).commander == "ana@drill", "bob sees ana in command", timings, started)
        await pb.press("escape")
        await pa.press("escape")

        # ana's update opens the thread; bob's goes into the same thread, the summary updated
        await pa.press("n")
        await until(pa, lambda: isinstance(ana.app.screen, ComposeScreen), what="ana's editor")
        await pa.press("ctrl+s")
        await until(pa, lambda: sim.state()["slack_messages"] == 2, what="the thread and ana's update")
        await until(pb, lambda: bob.app._comms.comms.thread() is not None, what="bob knows the thread", timeout=30)
        await pb.press("n")
        await until(pb, lambda: isinstance(bob.app.screen, ComposeScreen), what="bob's editor")
        head = str(bob.app.screen.query_one("#compose-head").content)
        assert "a reply in the incident thread" in head, head
        await pb.press("ctrl+s")
        await until(pb, lambda: sim.state()["slack_messages"] == 3, what="bob's reply, in the thread")
        thread = ana.app._comms.comms.thread()
        assert thread is not None and bob.app._comms.comms.thread() == thread

        # the status page incident is the incident's too: ana creates it, bob's update updates it
        await pa.press("e")
        await until(pa, lambda: isinstance(ana.app.screen, ComposeScreen), what="ana's status page editor")
        await pa.press("ctrl+s")
        await until(pa, lambda: sim.state()["statusapi_incidents"] == 1, what="the status page incident")
        await until(pb, lambda: bob.app._comms.comms.page_incident() is not None, what="bob knows the status page incident")
        await pb.press("e")
        await until(pb, lambda: isinstance(bob.app.screen, ComposeScreen), what="bob's status page editor")
        head = str(bob.app.screen.query_one("#compose-head").content)
        assert "a new incident" not in head, head
        await pb.press("ctrl+s")
        await until(pb, lambda: not isinstance(bob.app.screen, ComposeScreen), what="bob's update sent")
        await until(pb, lambda: bob.app._comms.comms.page_incident() == ana.app._comms.comms.page_incident(), what="one incident")
        assert sim.state()["statusapi_incidents"] == 1

        # ana resolves; bob sees it; the pointer says resolved
        started = time.monotonic()
        await pa.press("u")
        await until(pa, lambda: isinstance(ana.app.screen, ChoiceScreen), what="ana's status picker")
        await pa.press("4")
        await until(pa, lambda: incident(ana).status == "resolved", what="resolved at ana's")
        await seen(pb, lambda: incident(bob).status == "resolved", "bob sees the resolution", timings, started)
        if isinstance(ana.app.screen, ChoiceScreen):  # "resolve the page too?"
            await pa.press("escape")
        store = SharedIncidents(Kube(_kube_config(sim)))

        def pointer_resolved() -> bool:
            got = store._read_cm(POINTER)
            return got is not None and got["data"].get("status") == "resolved"

        await until(pa, pointer_resolved, what="the pointer resolved")

        # every event once in the cluster, and both local copies hold exactly the cluster's events
        await until(pa, lambda: ana.app._shared._sync.status.pending == 0, what="ana sent everything")
        await until(pb, lambda: bob.app._shared._sync.status.pending == 0, what="bob sent everything")
        await pa.pause(2.0)
        shared = cluster_ids(sim, inc_id)
        assert max(shared.values()) == 1
        await until(pa, lambda: set(ids_of(ana)) == set(cluster_ids(sim, inc_id)), what="ana holds the cluster's events")
        await until(pb, lambda: set(ids_of(bob)) == set(cluster_ids(sim, inc_id)), what="bob holds the cluster's events")
        assert max(ids_of(ana).values()) == 1 and max(ids_of(bob).values()) == 1
        print("seen after (s):", timings)
        assert all(t < SEEN_WITHIN for t in timings.values()), timings


def through(sim, cable: Cable, name: str) -> str:
    """A kubeconfig whose server is the cable in front of the drill's API."""
    doc = json.loads(Path(sim.kubeconfig).read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{cable.port}"
    path = Path(sim.kubeconfig).with_name(f"kubeconfig-{name}")
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.scenario("key-revoked")
async def test_a_partitioned_responder_keeps_working_and_heals(sim, tmp_path, monkeypatch) -> None:
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    sim.advance(40)
    base = copy.deepcopy(sim.config_dict())
    server = json.loads(Path(sim.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    cable = Cable(int(server.rsplit(":", 1)[1]))
    ana = cockpit(sim, tmp_path, monkeypatch, "ana")
    monkeypatch.setattr(sim, "config_dict", lambda: base)
    bob = cockpit(sim, tmp_path, monkeypatch, "bob", kubeconfig=through(sim, cable, "bob"))  # bob reaches the API through the cable
    monkeypatch.setattr(sim, "config_dict", lambda: base)
    cy = cockpit(sim, tmp_path, monkeypatch, "cy", read_only=True)
    try:
        async with ana.app.run_test(size=SIZE) as pa, bob.app.run_test(size=SIZE) as pb, cy.app.run_test(size=SIZE) as pc:
            for pilot, drill in ((pa, ana), (pb, bob), (pc, cy)):
                await ready(pilot, drill)
            await until(pa, lambda: settled(ana.app), what="ana's triage to settle")
            await pa.press("i")
            await until(pa, lambda: ana.app._desk.recorder.open is not None and not ana.app._desk.busy, what="ana's declaration")
            inc_id = incident(ana).id
            for pilot, drill in ((pb, bob), (pc, cy)):
                await until(pilot, lambda d=drill: incident(d) is not None and incident(d).id == inc_id, what="joined")
            # the read-only responder is present, and says it watches
            await until(
                pa, lambda: {r.name for r in ana.app._shared.view.responders} == {"ana@drill", "bob@drill", "cy@drill"}, what="3 in"
            )
            await until(pc, lambda: badge(cy) == "⇄ 3 watch", what="cy watching")

            # bob's cable is cut: he works on locally and says so; ana works on too
            cable.cut()
            await pb.press("W")
            await until(pb, lambda: isinstance(bob.app.screen, PeopleScreen), what="bob's people view")
            await pb.press("c")  # bob takes command, cut off
            await until(pb, lambda: incident(bob).commander == "bob@drill", what="bob in command, locally")
            await until(pb, lambda: badge(bob).startswith("⇄ LOCAL"), what="bob's badge: local only", timeout=40)
            assert "LOCAL unreachable" in badge(bob), badge(bob)
            detail = str(bob.app.screen.query_one("#people-detail").content)
            assert "local only (unreachable)" in detail and "kept locally" in detail, detail
            await pb.press("escape")
            await pa.press("s")
            await until(pa, lambda: isinstance(ana.app.screen, ChoiceScreen), what="ana's severity picker")
            await pa.press("3")
            await until(pa, lambda: incident(ana).severity == "P3", what="ana's P3")
            await pa.pause(3.0)
            assert incident(ana).commander == "" and incident(bob).severity != "P3"  # nothing crossed the cut

            # the cable mended: each sees the other's change; cy sees both
            cable.mend()
            await until(pa, lambda: incident(ana).commander == "bob@drill", what="ana sees bob in command", timeout=60)
            await until(pb, lambda: incident(bob).severity == "P3", what="bob sees P3", timeout=60)
            await until(pb, lambda: badge(bob) == "⇄ 3", what="bob in step again", timeout=60)
            await until(pc, lambda: incident(cy).commander == "bob@drill" and incident(cy).severity == "P3", what="cy sees both")

            # a responder types a secret into a note for the page: redacted before it is kept, so before it is shared
            slack_token = next(v for k, v in sim.env().items() if "SLACK" in k)
            await pa.press("b")
            await until(pa, lambda: isinstance(ana.app.screen, PagesScreen), what="the pages view")
            await pa.press("n")
            await until(pa, lambda: isinstance(ana.app.screen, NoteScreen), what="the note input")
            await type_text(pa, f"is this the bot token {slack_token} ?")
            await pa.press("enter")
            await until(pa, lambda: any("bot token" in e.summary for e in ana.app._desk.recorder.events()), what="the note kept")
            await pa.press("escape")
            await until(pb, lambda: any("bot token" in e.summary for e in bob.app._desk.recorder.events()), what="bob has the note")

            # nothing lost, nothing twice; the read-only cockpit added nothing to the cluster
            for pilot, drill in ((pa, ana), (pb, bob)):
                await until(pilot, lambda d=drill: d.app._shared._sync.status.pending == 0, what="everything sent")
            await pa.pause(2.0)
            shared = cluster_ids(sim, inc_id)
            assert max(shared.values()) == 1
            for pilot, drill in ((pa, ana), (pb, bob)):
                await until(pilot, lambda d=drill: set(ids_of(d)) == set(cluster_ids(sim, inc_id)), what="the cluster's events")
            cy_own = cy.app._shared._sync.cockpit
            assert not any(i.startswith(f"{cy_own}:") for i in cluster_ids(sim, inc_id))
            await until(pc, lambda: set(cluster_ids(sim, inc_id)) <= set(ids_of(cy)), what="cy holds every shared event")

            # the head ConfigMap is rebuilt from the merged events; no secret in any object the cockpits wrote
            store = SharedIncidents(Kube(_kube_config(sim)))
            await until(pa, lambda: (store._read_cm(head_name(inc_id)) or {}).get("data", {}).get("commander") == "bob@drill", what="head")
            head = store._read_cm(head_name(inc_id))["data"]
            assert head["severity"] == "P3" and head["id"] == inc_id, head
            listed = store._call("core", "list_namespaced_config_map", store.namespace, label_selector=MANAGED, action="listing")
            written = json.dumps([i.get("data") for i in listed["items"]])
            secrets = [v for v in sim.env().values() if len(v) >= 8] + [sim.token]
            assert len(listed["items"]) >= 3 and "bot token" in written and not any(v in written for v in secrets)
    finally:
        cable.cut()


@pytest.mark.scenario("key-revoked")
async def test_declared_while_cut_off_goes_on_as_the_shared_incident(sim, tmp_path, monkeypatch) -> None:
    """Bob declares while his cable is cut (his incident is local), ana declares meanwhile: mended, bob's
    incident goes on as ana's — his events pushed into it, his local file closed with incident_merged — and
    a restart of bob's cockpit resumes the shared incident, not his own."""
    for name, value in sim.env().items():
        monkeypatch.setenv(name, value)
    sim.advance(40)
    base = copy.deepcopy(sim.config_dict())
    server = json.loads(Path(sim.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    cable = Cable(int(server.rsplit(":", 1)[1]))
    ana = cockpit(sim, tmp_path, monkeypatch, "ana")
    monkeypatch.setattr(sim, "config_dict", lambda: base)
    bob = cockpit(sim, tmp_path, monkeypatch, "bob", kubeconfig=through(sim, cable, "bob"))
    try:
        async with ana.app.run_test(size=SIZE) as pa, bob.app.run_test(size=SIZE) as pb:
            await ready(pa, ana)
            await ready(pb, bob)
            cable.cut()
            await until(pb, lambda: badge(bob).startswith("⇄ LOCAL"), what="bob cut off", timeout=40)
            await until(pb, lambda: settled(bob.app), what="bob's triage to settle")
            await pb.press("i")
            await until(pb, lambda: bob.app._desk.recorder.open is not None and not bob.app._desk.busy, what="bob's local declaration")
            bobs = incident(bob).id
            await pb.press("W", "c")  # bob takes command of his local incident
            await until(pb, lambda: incident(bob).commander == "bob@drill", what="bob in command, locally")
            await pb.press("escape")
            await until(pa, lambda: settled(ana.app), what="ana's triage to settle")
            await pa.press("i")
            await until(pa, lambda: ana.app._desk.recorder.open is not None and not ana.app._desk.busy, what="ana's declaration")
            anas = incident(ana).id
            assert anas != bobs

            cable.mend()
            await until(pb, lambda: incident(bob).id == anas, what="bob's incident goes on as ana's", timeout=60)
            await until(pa, lambda: incident(ana).commander == "bob@drill", what="ana sees bob's command from his local incident")
            old = tmp_path / "bob" / "state" / "incidents" / f"{bobs}.jsonl"
            kinds = [e.kind for e in iter_events(old)]
            assert kinds[0] == EventKind.INCIDENT_DECLARED and kinds[-1] == EventKind.INCIDENT_MERGED, kinds
            await until(pb, lambda: bob.app._shared._sync.status.pending == 0, what="bob sent everything")
            await pb.pause(2.0)
            assert max(cluster_ids(sim, anas).values()) == 1
            await until(pb, lambda: set(ids_of(bob)) == set(cluster_ids(sim, anas)), what="bob holds the shared events")
    finally:
        cable.cut()
    # a restart of bob's cockpit resumes the shared incident (his own is closed as merged)
    from clay_cockpit.incident.lifecycle import IncidentStore

    resumed = IncidentStore(tmp_path / "bob" / "state").resume()
    assert resumed is not None and resumed.id == anas
