"""A throw-away PostgreSQL cluster for tests: ``initdb`` into a temporary folder, ``pg_ctl start`` on a free
loopback port, one fresh database per test, stopped and removed at the end.

The store claims to run on PostgreSQL as well as SQLite; only a real server shows whether the migrations, JSON
columns and locking hold up there. PostgreSQL refuses to run as root, so as root the cluster runs as the
``postgres`` user (made by Debian's ``postgresql`` package) in a folder that user owns. The binaries come from
``$EML_PG_BIN``, else ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``. Missing binaries fail the test
with a clear message (CI installs ``postgresql``: see the Makefile), unless ``EML_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_helpers import free_port

SKIP_ENV = "EML_SKIP_POSTGRES"
SUPERUSER = "eml"
_databases = itertools.count(1)


def pg_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or None."""
    env = os.environ.get("EML_PG_BIN")
    if env:
        return Path(env)
    found = shutil.which("initdb")
    if found:  # Debian links some of them into /usr/local/bin or /usr/bin: the real folder holds them all
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return candidates[-1].parent if candidates else None


@dataclass
class PgCluster:
    bindir: Path
    folder: Path
    port: int
    run_as: list[str]  # the command prefix that runs a PostgreSQL binary as a user it accepts

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.run_as, str(self.bindir / tool), *args], capture_output=True, text=True,
                              timeout=120, cwd=self.folder)

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"eml_test_{os.getpid()}_{next(_databases)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]  # a name made here, not input
        return self.url(name)


def _runner() -> tuple[list[str], str | None]:
    """The prefix that runs PostgreSQL as a non-root user, and that user's name when it is not us."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("running as root, and there is no 'postgres' user for PostgreSQL to run as (it refuses "
                    f"root): install Debian's postgresql package, or set {SKIP_ENV}=1 to skip these tests")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail(f"running as root without 'runuser' to start PostgreSQL as 'postgres'; set {SKIP_ENV}=1 to skip")
    return [runuser, "-u", "postgres", "--"], "postgres"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL cluster for the test session (per xdist worker)."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: PostgreSQL tests skipped")
    bindir = pg_bindir()
    if bindir is None or not (bindir / "initdb").is_file() or not (bindir / "pg_ctl").is_file():
        pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found on PATH, in $EML_PG_BIN or under "
                    f"/usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql, as 'make "
                    f"system-deps' does) or set {SKIP_ENV}=1 to skip the PostgreSQL tests")
    run_as, user = _runner()
    # As root, under /tmp (not $TMPDIR nor pytest's private folders), where the postgres user can reach it.
    folder = Path(tempfile.mkdtemp(prefix="eml-pg-", dir="/tmp" if user else None))
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        cluster = PgCluster(bindir, folder, 0, run_as)
        data = folder / "data"
        init = cluster.pg("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                          "--no-locale")
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stdout}{init.stderr}")
        for _attempt in range(3):  # the free port may be taken between finding it and binding it
            cluster.port = free_port()
            opts = (f"-k {folder} -h 127.0.0.1 -p {cluster.port} -c fsync=off -c synchronous_commit=off "
                    "-c full_page_writes=off -c max_connections=100")
            start = cluster.pg("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(folder / "log"),
                               "-o", opts)
            if start.returncode == 0:
                break
        else:
            log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
            pytest.fail(f"pg_ctl start failed: {start.stdout}{start.stderr}\n{log[-2000:]}")
        try:
            yield cluster
        finally:
            cluster.pg("pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(data))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

