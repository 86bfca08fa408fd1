"""A throw-away OpenLDAP ``slapd`` for the directory sign-in tests: its own config and database
in a temporary directory, a self-signed CA and server certificate (made with ``cryptography``),
plain LDAP (with StartTLS) and LDAPS on free loopback ports, and a small company loaded with
``ldapadd``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUFFIX = "dc=corp,dc=example"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret-pw"
SERVICE_DN = f"cn=dutydesk,ou=services,{SUFFIX}"
SERVICE_PW = "service-secret-pw"
PASSWORDS = {"ivan": "ivan-pass-123", "olena": "olena-pass-123", "petro": "petro-pass-123",
             "stepan": "stepan-pass-123"}

PEOPLE = f"""
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: corp
o: Corp

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: {SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: dutydesk
userPassword: {SERVICE_PW}

dn: uid=ivan,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: ivan
cn: Ivan Petrenko
sn: Petrenko
mail: Ivan.Petrenko@corp.example
telephoneNumber: +380 44 000 0001
preferredLanguage: uk-UA
userPassword: {PASSWORDS["ivan"]}

dn: uid=olena,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: olena
cn: Olena Kovalenko
sn: Kovalenko
mail: olena@corp.example
preferredLanguage: ru
userPassword: {PASSWORDS["olena"]}

dn: uid=petro,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: petro
cn: Petro Canteen
sn: Canteen
mail: petro@corp.example
userPassword: {PASSWORDS["petro"]}

dn: uid=stepan,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: stepan
cn: Stepan Gone
sn: Gone
mail: stepan@corp.example
employeeType: disabled
userPassword: {PASSWORDS["stepan"]}

dn: cn=dc-duty,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: dc-duty
member: uid=ivan,ou=people,{SUFFIX}
member: uid=stepan,ou=people,{SUFFIX}

dn: cn=dc-leads,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: dc-leads
member: uid=olena,ou=people,{SUFFIX}

dn: cn=canteen,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: canteen
member: uid=petro,ou=people,{SUFFIX}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_certs(folder: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DutyDesk test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    # a CA nobody trusts: the server's certificate must fail verification against it
    other = ec.generate_private_key(ec.SECP256R1())
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Someone else's CA")])
    stranger = (
        x509.CertificateBuilder().subject_name(other_name).issuer_name(other_name)
        .public_key(other.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(other, hashes.SHA256())
    )
    (folder / "other-ca.pem").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))


@dataclass
class Slapd:
    folder: Path
    port: int
    tls_port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> str:
        return str(self.folder / "ca.pem")

    def ldif(self, text: str, *, modify: bool = False) -> None:
        path = self.folder / "change.ldif"
        path.write_text(text)
        tool = "ldapmodify" if modify else "ldapadd"
        subprocess.run([tool, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PW, "-f",
                        str(path)], check=True, capture_output=True, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_slapd(folder: Path, binary: str) -> Slapd:
    """Start slapd in ``folder`` (config, database, certificates) and load the company."""
    _write_certs(folder)
    (folder / "db").mkdir()
    conf = folder / "slapd.conf"
    conf.write_text(f"""
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {folder}/slapd.pid
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {folder}/db
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
""")
    port, tls_port = free_port(), free_port()
    process = subprocess.Popen(
        [binary, "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/",
         "-d", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    server = Slapd(folder=folder, port=port, tls_port=tls_port, process=process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd exited: {process.stderr.read().decode()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.stop()
        raise RuntimeError("slapd did not start listening within 20 s")
    server.ldif(PEOPLE)
    return server


def slapd_binary() -> str | None:
    return shutil.which("slapd") or (
        "/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None
    )
