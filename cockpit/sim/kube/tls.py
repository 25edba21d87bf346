"""TLS for the drill's Kubernetes API.

kubectl (client-go's clientcmd) only sends a kubeconfig's credentials —
bearer token included — when the server URL is ``https``; over plain http it
talks as ``system:anonymous``. So the drill serves its Kubernetes API over
HTTPS on loopback with a throwaway certificate made at start-up by
``trustme`` (a CA of its own and a serving certificate it signs, EC P-256,
SANs 127.0.0.1 / ::1 / localhost, valid for 30 days of real time), and the
kubeconfig trusts exactly that CA via ``certificate-authority-data``. The
private keys stay in memory except for the instant ``ssl`` needs one in a
0600 temporary file (trustme's ``configure_cert``).

Client certificates (x509 authentication, as kube-apiserver's
``--client-ca-file``): the server asks for one without requiring it, and
trusts those a second, client-only CA made at start-up signed
(:meth:`TlsMaterial.issue_client_cert`; the CN is the user). An exec
credential plugin returning ``clientCertificateData``/``clientKeyData`` is
tested with them; the request log names the serial of the certificate each
request came with.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import trustme

VALID_FOR = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsMaterial:
    ca: trustme.CA = field(repr=False)  # signs the serving certificate; what clients trust
    server: trustme.LeafCert = field(repr=False)
    client_ca: trustme.CA = field(repr=False)  # the CA client certificates are checked against

    @property
    def ca_pem(self) -> str:
        """The CA a client trusts (PEM)."""
        return self.ca.cert_pem.bytes().decode()

    @property
    def ca_data(self) -> str:
        """The CA as a kubeconfig's ``certificate-authority-data``."""
        return base64.b64encode(self.ca.cert_pem.bytes()).decode()

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(ctx)
        self.client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way to log in, not the only one
        return ctx

    def issue_client_cert(self, user: str, *, valid_for: dt.timedelta = dt.timedelta(hours=1)) -> tuple[str, str]:
        """A client certificate for ``user`` signed by the client CA: (certificate PEM, key PEM)."""
        now = dt.datetime.now(dt.UTC)
        leaf = self.client_ca.issue_cert(common_name=user, not_before=now - dt.timedelta(minutes=5), not_after=now + valid_for)
        return leaf.cert_chain_pems[0].bytes().decode(), leaf.private_key_pem.bytes().decode()

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the server (for tests and the control API)."""
        return ssl.create_default_context(cadata=self.ca_pem)


def generate(common_name: str = "clay-drill-kube-apiserver") -> TlsMaterial:
    now = dt.datetime.now(dt.UTC)
    ca = trustme.CA(organization_unit_name=common_name + "-ca")
    server = ca.issue_cert(
        "127.0.0.1", "::1", "localhost", common_name=common_name, not_before=now - dt.timedelta(hours=1), not_after=now + VALID_FOR
    )
    return TlsMaterial(ca=ca, server=server, client_ca=trustme.CA(organization_unit_name=common_name + "-client-ca"))


def trust_in_kubeconfig(path: Path, ca_data: str) -> Path:
    """Add ``certificate-authority-data`` to every cluster of a JSON kubeconfig
    written by :func:`clay_cockpit.sim.wiring.write_kubeconfig` (kept 0600)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    for entry in doc.get("clusters", []):
        entry.setdefault("cluster", {})["certificate-authority-data"] = ca_data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    return Path(path)
