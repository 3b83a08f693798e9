"""Certificates and keys of a sandbox cluster, made fresh for every start (the cluster is too).

ECDSA P-256 throughout: generating it takes microseconds where RSA takes a noticeable share of a
start, and every component accepts it (service-account tokens are then signed ES256).
"""
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)
# Who each client certificate speaks for; the API server reads the user from CN and groups from O.
CLIENTS = {
    "admin": ("kubernetes-admin", ["system:masters"]),
    "kube-controller-manager": ("system:kube-controller-manager", []),
    "kube-scheduler": ("system:kube-scheduler", []),
    # The Service forwarders read Services and EndpointSlices as kube-proxy does.
    "kube-proxy": ("system:kube-proxy", []),
}


def kubelet_client(node_name):
    return f"system:node:{node_name}", ["system:nodes"]


@dataclass
class Pair:
    cert: Path
    key: Path


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(cn, orgs=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Pki:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.ca = Pair(self.dir / "ca.crt", self.dir / "ca.key")
        self.sa_public = self.dir / "sa.pub"
        self.sa_private = self.dir / "sa.key"
        self._ca_key = None
        self._ca_cert = None

    def pair(self, name):
        return Pair(self.dir / f"{name}.crt", self.dir / f"{name}.key")

    def create(self, service_ip, node_name):
        """Everything the control plane, the kubelet and the admin kubeconfig need."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._make_ca()
        self._issue("apiserver", _name("kube-apiserver"), server=True,
                    dns=["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                         "kubernetes.default.svc.cluster.local"],
                    ips=["127.0.0.1", service_ip])
        for name, (cn, orgs) in CLIENTS.items():
            self._issue(name, _name(cn, orgs))
        cn, orgs = kubelet_client(node_name)
        self._issue("kubelet", _name(cn, orgs))
        sa = _key()
        _write_key(self.sa_private, sa)
        self.sa_public.write_bytes(sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))

    def _make_ca(self):
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        name = _name("kubesandbox-ca")
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        _write_key(self.ca.key, key)
        self.ca.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._ca_key, self._ca_cert = key, cert

    def _issue(self, name, subject, server=False, dns=(), ips=()):
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self._ca_cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()),
                                  critical=False))
        if dns or ips:
            names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._ca_key, hashes.SHA256())
        pair = self.pair(name)
        _write_key(pair.key, key)
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair
