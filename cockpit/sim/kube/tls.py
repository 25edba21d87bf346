"""TLS for the drill's Kubernetes API.

kubectl (client-go's clientcmd) only sends a kubeconfig's credentials —
bearer token included — when the server URL is ``https``; over plain http it
talks as ``system:anonymous``. So the drill serves its Kubernetes API over
HTTPS on loopback with a throwaway self-signed certificate made at start-up
(EC P-256, SANs 127.0.0.1 / ::1 / localhost, valid for 30 days of real time),
and the kubeconfig trusts exactly that certificate via
``certificate-authority-data``. The private key never leaves memory except
for the instant ``ssl`` needs it in a 0600 temporary file.

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
import ipaddress
import json
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class TlsMaterial:
    cert_pem: str
    key_pem: str = field(repr=False)
    client_ca_pem: str = ""  # the CA client certificates are checked against ("": none accepted)
    client_ca_key_pem: str = field(default="", repr=False)

    @property
    def ca_data(self) -> str:
        """The certificate as a kubeconfig's ``certificate-authority-data``."""
        return base64.b64encode(self.cert_pem.encode()).decode()

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory(prefix="clay-drill-tls-") as tmp:
            cert, key = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
            cert.write_text(self.cert_pem)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.key_pem)
            ctx.load_cert_chain(cert, key)
        if self.client_ca_pem:
            ctx.load_verify_locations(cadata=self.client_ca_pem)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way to log in, not the only one
        return ctx

    def issue_client_cert(self, user: str, *, valid_for: dt.timedelta = dt.timedelta(hours=1)) -> tuple[str, str]:
        """A client certificate for ``user`` signed by the client CA: (certificate PEM, key PEM)."""
        ca_key = serialization.load_pem_private_key(self.client_ca_key_pem.encode(), None)
        ca = x509.load_pem_x509_certificate(self.client_ca_pem.encode())
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + valid_for)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (for tests and the control API)."""
        return ssl.create_default_context(cadata=self.cert_pem)


def generate(common_name: str = "clay-drill-kube-apiserver") -> TlsMaterial:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
            x509.DNSName("localhost"),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name + "-client-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return TlsMaterial(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        key_pem=_key_pem(key),
        client_ca_pem=ca.public_bytes(serialization.Encoding.PEM).decode(),
        client_ca_key_pem=_key_pem(ca_key),
    )


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
