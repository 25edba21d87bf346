"""``GET /api/v1/namespaces/{ns}/pods/{name}/log``: kubelet's log endpoint.

Honours container, previous, tailLines, sinceSeconds, sinceTime (against the
simulation clock), timestamps (RFC 3339 with nanoseconds, as kubelet writes
them), limitBytes, and follow: a chunked text/plain stream that gets each
line as :meth:`KubeCluster.log` appends it and ends when the followed
container stops (crash, termination), the pod is gone, or the client
disconnects.

What it serves is bounded as on a kubelet: a ring of the last
:data:`~clay_cockpit.sim.kube.pods.LOG_LINES` (5,000) lines per container
instance, the current one and the previous one (``previous=true``). A line
rotated out is gone; our service's lines are numbered per container instance
(`` seq=<n>``, :mod:`clay_cockpit.sim.podlog`), so a follow that falls more
than 5,000 lines behind sees the gap in the numbers, and one that keeps up
sees none (bench/simflood: 10,000 lines/s across 50 follows).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from aiohttp import web

from clay_cockpit.sim.kube.pods import LogLine
from clay_cockpit.sim.kube.util import ApiError, parse_rfc3339, rfc3339_nano

if TYPE_CHECKING:
    from clay_cockpit.sim.kube.api import KubeCluster

log = logging.getLogger(__name__)


def _int_param(request: web.Request, name: str, minimum: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f'{name}: Invalid value: "{raw}": must be an integer') from None
    if value < minimum:
        raise ApiError(
            422,
            f'PodLogOptions "" is invalid: {name}: Invalid value: {value}: must be greater than '
            f"{'or equal to ' if minimum == 0 else ''}{minimum - 1 if minimum else 0}",
            reason="Invalid",
        )
    return value


def _after(buf: deque[LogLine], last: int) -> list[LogLine]:
    """The entries of ``buf`` (ordered by sequence number) after ``last``."""
    out: list[LogLine] = []
    for entry in reversed(buf):
        if entry[0] <= last:
            break
        out.append(entry)
    out.reverse()
    return out


async def _while_stalled(cluster: KubeCluster, request: web.Request) -> None:
    """Hold a follow, its connection open and silent, while the drill stalls
    the logs (``POST /_sim/kube/stall_logs``); it ends when the client goes."""
    while cluster.logs_stalled and not cluster.closing:
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("client went away while the logs were stalled")
        await asyncio.sleep(0.1)


async def _quiet_log(cluster: KubeCluster, request: web.Request, ns: str, name: str) -> web.StreamResponse:
    """The log of a container that writes none (the drill's init containers and sidecars):
    empty, or with follow=true an open stream that stays silent until the pod or the client goes."""
    if request.query.get("follow", "").lower() not in ("1", "true"):
        return web.Response(body=b"", content_type="text/plain", charset="utf-8")
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain; charset=utf-8"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    while not cluster.closing and (ns, name) in cluster.ctl.pods:
        if request.transport is None or request.transport.is_closing():
            break
        await asyncio.sleep(0.2)
    return resp


async def serve_log(cluster: KubeCluster, request: web.Request, ns: str, name: str) -> web.StreamResponse:
    q = request.query
    pod = cluster.ctl.pods.get((ns, name))
    if pod is None:
        raise ApiError(404, f'pods "{name}" not found', details={"name": name, "kind": "pods"})
    container = q.get("container") or pod.container_name
    if container != pod.container_name:
        if container not in {ic.name for ic in pod.inits}:
            raise ApiError(400, f"container {container} is not valid for pod {name}")
        return await _quiet_log(cluster, request, ns, name)  # an init container or native sidecar: it logs nothing here
    previous = q.get("previous", "").lower() in ("1", "true")
    follow = q.get("follow", "").lower() in ("1", "true")
    stamps = q.get("timestamps", "").lower() in ("1", "true")
    tail = _int_param(request, "tailLines", 0)
    since_s = _int_param(request, "sinceSeconds", 1)
    limit = _int_param(request, "limitBytes", 1)
    since_t = None
    if q.get("sinceTime"):
        try:
            since_t = parse_rfc3339(q["sinceTime"])
        except ValueError:
            raise ApiError(400, f'parsing time "{q["sinceTime"]}" as "2006-01-02T15:04:05Z07:00": cannot parse') from None
    if since_s is not None and since_t is not None:
        raise ApiError(
            422,
            'PodLogOptions "" is invalid: [sinceSeconds: Forbidden: at most one of sinceTime or sinceSeconds may be specified]',
            reason="Invalid",
        )
    buf = pod.log_buffer(previous)
    if isinstance(buf, str):
        raise ApiError(400, buf)
    instance = pod.instance
    cutoff = since_t if since_t is not None else (cluster.clock() - since_s if since_s is not None else None)
    lines = [e for e in buf if cutoff is None or e[1] >= cutoff]
    if tail is not None:
        lines = lines[-tail:] if tail else []
    sent = [0]

    def render(entries: list[LogLine]) -> bytes:
        text = "".join(f"{rfc3339_nano(at)} {line}\n" if stamps else f"{line}\n" for _, at, line in entries).encode()
        if limit is not None:
            text = text[: max(0, limit - sent[0])]
        sent[0] += len(text)
        return text

    if not follow:
        return web.Response(body=render(lines), content_type="text/plain", charset="utf-8")
    resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain; charset=utf-8"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    last = buf[-1][0] if buf else 0
    try:
        await _while_stalled(cluster, request)
        await resp.write(render(lines))
        while not cluster.closing and (limit is None or sent[0] < limit):
            await _while_stalled(cluster, request)
            fresh = _after(buf, last)
            if fresh:
                last = fresh[-1][0]
                await resp.write(render(fresh))
            live = not pod.gone and pod.instance == instance and pod.running and not previous and cluster.ctl.pods.get((ns, name)) is pod
            if not live:
                break  # the followed container stopped, or the pod is gone
            wake = pod.wake
            if buf and buf[-1][0] > last:
                continue
            try:
                await asyncio.wait_for(wake.wait(), timeout=1.0)
            except TimeoutError:
                if request.transport is None or request.transport.is_closing():
                    break
        await resp.write_eof()
    except ConnectionError as exc:
        log.debug("log follow of %s/%s ended: client went away (%s)", ns, name, type(exc).__name__)
    return resp
