"""A Redis server of a test's own (a free port on 127.0.0.1, nothing kept on disk), so a test
can stop and restart the queue without touching the shared one on 6379."""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.private_postgres import free_port


class PrivateRedis:
    """start(), stop(), restart(), url(db); close() stops it and removes its folder."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="saas-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - kept for the process
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.is_running():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start: see {self.folder}/server.log")
            time.sleep(0.05)

    def is_running(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            return client.ping()
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Gone at once, with all it held (as a crash or a restart without persistence does)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PrivateRedis":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
