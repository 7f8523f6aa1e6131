"""A PostgreSQL cluster of a test's own (Debian's initdb and pg_ctl, a free port on 127.0.0.1),
so a test can stop and restart the database without touching the shared one on 5432."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from saas import create_app
from saas.config import database_uri
from saas.extensions import db

DEBIAN_POSTGRES = Path("/usr/lib/postgresql")
# initdb refuses to run as root, which CI is: the cluster then belongs to this OS user.
CLUSTER_USER = "postgres"
# fsync and full pages only matter when the machine crashes; synchronous_commit stays on, so an
# immediate stop loses no commit the app was told succeeded.
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{folder}'
fsync = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 100
"""


def binaries() -> Path:
    """The newest installed server's bin folder (/usr/lib/postgresql/<version>/bin)."""
    found = sorted(DEBIAN_POSTGRES.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError(f"no PostgreSQL server under {DEBIAN_POSTGRES} (apt install postgresql)")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """start(), stop(mode), restart(), url(name), create_database(name); close() cleans up."""

    def __init__(self):
        self.bin = binaries()
        # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
        self.folder = Path(tempfile.mkdtemp(prefix="saas-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.folder, user=CLUSTER_USER, group=CLUSTER_USER)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", CLUSTER_USER, "--", *command]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}{self._tail()}")
        return done

    def _tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""

    def _initdb(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(SETTINGS.format(port=self.port, folder=self.folder))

    def start(self) -> None:
        """Start the server (creating the cluster the first time); returns once it accepts
        connections."""
        if not self.data.exists():
            self._initdb()
        self._run("pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends sessions cleanly, "immediate" is a crash (no checkpoint)."""
        self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.data))

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def is_running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data), check=False).returncode == 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create database `name`, migrated to head; returns its URL."""
        engine = sa.create_engine(
            database_uri(self.url(), self.folder),
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.NullPool,
        )
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self._migrate(self.url(name))
        return self.url(name)

    def _migrate(self, url: str) -> None:
        """As conftest's migrate_to_head, but through create_app's overrides, not os.environ."""
        instance = self.folder / "migrate-instance"
        overrides = {"TESTING": True, "INSTANCE_PATH": str(instance)}
        app = create_app({**overrides, "SQLALCHEMY_DATABASE_URI": database_uri(url, instance)})
        with app.app_context():
            flask_migrate.upgrade()
            db.engine.dispose()

    def close(self) -> None:
        """Stop the server whatever state it is in, and remove its folder."""
        if self.data.exists() and self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data), check=False)
        self._kill_leftover()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _kill_leftover(self) -> None:
        pid_file = self.data / "postmaster.pid"
        lines = pid_file.read_text().split() if pid_file.exists() else []
        if lines and lines[0].isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(lines[0]), signal.SIGKILL)

    def __enter__(self) -> "PrivatePostgres":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
