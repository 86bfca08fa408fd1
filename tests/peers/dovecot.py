"""A throw-away Dovecot IMAP server for tests (Debian's ``dovecot-imapd``).

Its own configuration, state, log and maildir live in one temporary folder; it listens on free
loopback ports: IMAP with STARTTLS (``port``) and implicit TLS (``tls_port``), with a
certificate from a test CA made here (``ca_file``). One passwd-file user (``user`` /
``password``) owns the mailbox. Nothing of the machine's own Dovecot is used or touched.

API (for the intake tests and anyone else who needs a real mailbox)::

    server = Dovecot.start(tmp_path)          # or the ``dovecot`` fixture in tests/conftest.py
    server.deliver(raw_bytes)                 # APPEND a message to INBOX (or folder=...)
    server.uids("INBOX"), server.folders()    # what the mailbox holds now
    server.stop()
"""

from __future__ import annotations

import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BINARY_CANDIDATES = ("/usr/sbin/dovecot",)
USER = "intake@corp.example"
PASSWORD = "intake-secret-pw"


def dovecot_binary() -> str | None:
    """Path of the dovecot binary, or None when the package is not installed."""
    for candidate in (*BINARY_CANDIDATES, shutil.which("dovecot") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def write_certs(folder: Path) -> None:
    """``ca.pem`` (a test CA), ``server.pem``/``server.key`` for 127.0.0.1 and localhost, and
    ``other-ca.pem`` (a CA that did not sign the server: verification must fail with it)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("DutyDesk IMAP test CA"))
          .issuer_name(_name("DutyDesk IMAP test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = (x509.CertificateBuilder().subject_name(_name("Someone else's CA"))
             .issuer_name(_name("Someone else's CA")).public_key(other_key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - dt.timedelta(minutes=5))
             .not_valid_after(now + dt.timedelta(days=1))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
             .sign(other_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "other-ca.pem").write_bytes(other.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (folder / "server.key").chmod(0o600)


def _mail_owner() -> tuple[int, int]:
    """Dovecot never gives mail access to root: as root the maildir belongs to Debian's
    ``mail`` user, otherwise to whoever runs the tests."""
    if os.getuid() == 0:
        entry = pwd.getpwnam("mail")
        return entry.pw_uid, entry.pw_gid
    return os.getuid(), os.getgid()


def _config(folder: Path, port: int, tls_port: int) -> str:
    me = pwd.getpwuid(os.getuid()).pw_name
    auth_user = ""
    mail_uid, mail_gid = _mail_owner()
    if os.getuid() == 0:  # Dovecot's own unprivileged users, made by the Debian package
        internal, login = "dovecot", "dovenull"
        # the temporary folder's parents are private to root: the passwd-file reader runs as
        # the test's user (its files), the network-facing login processes stay unprivileged
        auth_user = "service auth {\n  user = root\n}\nservice auth-worker {\n  user = root\n}\n"
    else:
        internal = login = me
    return auth_user + f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
instance_name = dutydesk-test-{port}
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
first_valid_uid = 0
first_valid_gid = 0
mail_uid = {mail_uid}
mail_gid = {mail_gid}
ssl = yes
ssl_cert = <{folder}/server.pem
ssl_key = <{folder}/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{folder}/mail/%n
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {folder}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@dataclass
class Dovecot:
    """A running test Dovecot. ``host``/``port`` (STARTTLS), ``tls_port`` (implicit TLS),
    ``user``/``password``, ``ca_file`` (the CA that signed its certificate)."""

    folder: Path
    port: int
    tls_port: int
    process: subprocess.Popen[bytes]
    user: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def ca_file(self) -> str:
        return str(self.folder / "ca.pem")

    @property
    def other_ca_file(self) -> str:
        return str(self.folder / "other-ca.pem")

    @classmethod
    def start(cls, folder: Path, binary: str | None = None, *, user: str = USER,
              password: str = PASSWORD, timeout_s: float = 15.0) -> Dovecot:
        """Start a Dovecot with its files in ``folder`` and wait until it answers IMAP."""
        binary = binary or dovecot_binary()
        if binary is None:
            raise FileNotFoundError("dovecot is not installed (apt-get install dovecot-imapd)")
        if os.getuid() == 0:
            # the unprivileged mail user must reach the maildir, and pytest's temporary
            # folders are private to root: use a folder of our own, removed by stop()
            folder = Path(tempfile.mkdtemp(prefix="dutydesk-dovecot-"))
            folder.chmod(0o755)
        folder.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", "mail"):
            (folder / sub).mkdir(exist_ok=True)
        mail_uid, mail_gid = _mail_owner()
        os.chown(folder / "mail", mail_uid, mail_gid)
        write_certs(folder)
        (folder / "users").write_text(  # uid/gid come from mail_uid/mail_gid (this process)
            f"{user}:{{PLAIN}}{password}::::{folder}/mail/{user.split('@')[0]}::\n")
        port, tls_port = free_port(), free_port()
        (folder / "dovecot.conf").write_text(_config(folder, port, tls_port))
        process = subprocess.Popen([binary, "-F", "-c", str(folder / "dovecot.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        server = cls(folder, port, tls_port, process, user, password)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"dovecot exited ({process.returncode}): {err}\n"
                                   f"{server.log()[-3000:]}")
            try:
                with server.client() as imap:
                    imap.noop()
                return server
            except (OSError, imaplib.IMAP4.error):
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"dovecot did not answer within {timeout_s} s:\n"
                           f"{server.log()[-3000:]}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> imaplib.IMAP4_SSL:
        """A signed-in stdlib IMAP client over implicit TLS (the test's side of the mailbox)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        imap = imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=context, timeout=10)
        imap.login(self.user, self.password)
        return imap

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """APPEND one message (RFC 5322 bytes) to ``folder``, creating the folder if needed."""
        with self.client() as imap:
            if folder != "INBOX":
                imap.create(folder)
            status, data = imap.append(folder, None, None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND to {folder} failed: {data!r}")

    def uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs of the messages in ``folder`` (empty when the folder does not exist)."""
        with self.client() as imap:
            status, _ = imap.select(folder, readonly=True)
            if status != "OK":
                return []
            _, data = imap.uid("SEARCH", "ALL")
            return [int(n) for n in (data[0] or b"").split()]

    def fetch(self, folder: str = "INBOX") -> list[bytes]:
        """The raw messages in ``folder``, oldest first."""
        with self.client() as imap:
            status, _ = imap.select(folder, readonly=True)
            if status != "OK":
                return []
            _, data = imap.uid("SEARCH", "ALL")
            out: list[bytes] = []
            for uid in (data[0] or b"").split():
                _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                out.extend(p[1] for p in parts if isinstance(p, tuple))
            return out

    def folders(self) -> list[str]:
        with self.client() as imap:
            _, data = imap.list()
            return [line.decode().rsplit(' "/" ', 1)[-1].strip('"') for line in data
                    if isinstance(line, bytes)]

    def stop(self) -> None:
        """Stop the server (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        if self.folder.name.startswith("dutydesk-dovecot-"):
            shutil.rmtree(self.folder, ignore_errors=True)
