"""Debian's mosquitto broker on 127.0.0.1 and a free port, for the oracle's MQTT tests: anonymous,
with a password file, and with TLS (a CA, a server certificate for 127.0.0.1 and an optional
client certificate made with the openssl CLI)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.utils.anvil import free_port


def mosquitto_exe() -> str | None:
    return shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


@dataclass(frozen=True)
class Certificates:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA, a server certificate for 127.0.0.1 / localhost and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=gridmint test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    (directory / "server.ext").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    for name, cn in (("server", "127.0.0.1"), ("client", "gridmint-oracle")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.csr")
        extra = ["-extfile", "server.ext"] if name == "server" else []
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.pem", *extra)
    d = directory
    return Certificates(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")


class Mosquitto:
    """`users` ({name: password}) turns anonymous access off; `certs` serves TLS only
    (`require_client_cert` also demands a client certificate signed by the CA)."""

    def __init__(
        self, directory: Path, users: dict[str, str] | None = None, certs: Certificates | None = None,
        require_client_cert: bool = False,
    ):
        self.port = free_port()
        self.directory = directory
        self.conf = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false", "max_queued_messages 100000",
                 "log_dest none", "user root"]
        if users:
            passwd = directory / "mosquitto.passwd"
            passwd.write_text("")
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines += ["allow_anonymous true"]
        if certs:
            lines += [f"cafile {certs.ca}", f"certfile {certs.server_cert}", f"keyfile {certs.server_key}",
                      f"require_certificate {'true' if require_client_cert else 'false'}"]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Mosquitto":
        exe = mosquitto_exe()
        if exe is None:
            raise RuntimeError("mosquitto not installed (make setup installs Debian's package)")
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start ({self.conf.read_text()!r})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
