"""The Procfile's commands, so tests and benchmarks run processes exactly as operators do."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def procfile_command(process: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(f"no {process!r} process in the Procfile")
