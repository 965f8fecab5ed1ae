"""A PostgreSQL 15 server of its own for the tests and `make bench` (callops.serving): the machine
image's server binaries, run as the postgres user (initdb refuses root) in a folder outside pytest's
0700 temp root, listening on 127.0.0.1 only."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER_PASSWORD = "owner pw: with 'quotes' @ and /"


class Unavailable(RuntimeError):
    """No server binaries, or no postgres user to run them as."""


class Server:
    """A PostgreSQL 15 of its own, on 127.0.0.1, run as the postgres user (initdb refuses root)."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise Unavailable(f"no PostgreSQL 15 server binaries in {PG_BIN}")
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("no postgres user to run PostgreSQL as") from None
        # outside pytest's 0700 temp root: the postgres user must reach it
        self.folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="callops-pg-"))
        self.folder.chmod(0o755)
        if os.geteuid() == 0:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self.data = self.folder / "data"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        self.start()
        self.superuser_sql(
            "create role callops login createrole password '" + OWNER_PASSWORD.replace("'", "''") + "'",
            "create database callops owner callops",
        )
        from urllib.parse import quote

        self.url = f"postgresql://callops:{quote(OWNER_PASSWORD, safe='')}@127.0.0.1:{self.port}/callops"

    def run(self, *command) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *map(str, command)], capture_output=True, text=True, cwd=self.folder)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> None:
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.folder / "server.log", "-w", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off", "start")

    def stop(self) -> None:
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def superuser_sql(self, *statements: str, database: str = "postgres") -> None:
        for statement in statements:
            self.run(PG_BIN / "psql", "-h", self.folder, "-p", self.port, "-U", "postgres", "-d", database,
                     "-v", "ON_ERROR_STOP=1", "-c", statement)

    def superuser(self):
        import psycopg

        return psycopg.connect(host=str(self.folder), port=self.port, user="postgres", dbname="callops",
                               autocommit=True)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
