"""The local control plane's certificates verify against its CA with the names kubeconfigs and
RBAC need, and generated kubeconfigs are self-contained."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clew.testing.controlplane import kubeconfig
from clew.testing.pki import PKI


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_cert_names_and_chain(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    pair = pki.issue(
        "apiserver",
        common_name="kube-apiserver",
        dns=("localhost",),
        ips=("127.0.0.1",),
        server=True,
    )
    cert, ca = load(pair.cert), load(pki.ca.cert)
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    assert oct(pair.key.stat().st_mode & 0o777) == "0o600"


def test_admin_client_cert_is_in_system_masters(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    pair = pki.issue("admin", common_name="clew-admin", organizations=("system:masters",))
    subject = load(pair.cert).subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "clew-admin"


def test_kubeconfig_embeds_ca_and_credentials(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    pair = pki.issue("admin", common_name="clew-admin")
    config = kubeconfig("https://127.0.0.1:6443", pki.ca_pem, "clew-admin", cert=pair)
    cluster = config["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == pki.ca_pem
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == pair.cert.read_bytes()
    assert config["current-context"] == "clew-admin@clew-local"
    token_config = kubeconfig("https://127.0.0.1:6443", pki.ca_pem, "sa", token="abc")
    assert token_config["users"][0]["user"] == {"token": "abc"}
