"""The sandbox CA issues what the API server and its admin client need, and nothing weaker."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from canary.sandbox.pki import KUBERNETES_SERVICE_IP, create_pki


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_names_every_address_clients_use(tmp_path: Path) -> None:
    files = create_pki(tmp_path)
    san = _load(files.serving_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert set(san.value.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address(KUBERNETES_SERVICE_IP),
    }
    assert {"localhost", "kubernetes.default.svc.cluster.local"} <= set(
        san.value.get_values_for_type(x509.DNSName)
    )


def test_admin_is_a_client_in_system_masters_signed_by_the_ca(tmp_path: Path) -> None:
    files = create_pki(tmp_path)
    ca, admin = _load(files.ca_cert), _load(files.admin_cert)
    admin.verify_directly_issued_by(ca)
    organizations = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_private_keys_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    files = create_pki(tmp_path)
    for key in (files.ca_key, files.serving_key, files.admin_key, files.service_account_key):
        assert key.stat().st_mode & 0o077 == 0, key


def test_each_sandbox_gets_its_own_ca(tmp_path: Path) -> None:
    first = create_pki(tmp_path / "a")
    second = create_pki(tmp_path / "b")
    assert first.ca_cert.read_bytes() != second.ca_cert.read_bytes()
