# SPDX-License-Identifier: GPL-3.0-or-later
"""The databases a backup reads from and a restore writes to, one class per engine.

Each engine knows its dump and restore commands (the engine's own tools: ``pg_dump``,
``mysqldump``, ``redis-cli``, ``mongodump``), how to tell a complete dump from a broken
one while it streams by (a *format check*), and how to create, inspect, query and drop a
database for a test restore.

Credentials never reach a command line: for a server reached over the network they go
to a 0600 file in a private temporary directory (``PGPASSFILE``, ``--defaults-extra-file``)
or to the environment of the one process (``REDISCLI_AUTH``); for a database in a
container the tools run inside it (``docker exec -i``) and get the password through
``docker exec -e NAME``, which copies the value from the client's environment, not from
its arguments.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import BackupError, mask, tail

ENGINES = ("postgres", "mysql", "mariadb", "redis", "mongodb", "files")


@dataclass
class Connection:
    """Where a database is and how to log in to it."""

    engine: str
    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    container: str | None = None
    docker: str = "docker"
    paths: tuple[str, ...] = ()  # engine "files": absolute paths to archive

    def label(self) -> str:
        where = f"container {self.container}" if self.container else f"{self.host or 'localhost'}:{self.port or ''}"
        return f"{self.engine} database {self.database!r} on {where}".replace(":)", ")")

    def with_database(self, name: str) -> Connection:
        return Connection(**{**self.__dict__, "database": name})


class Client:
    """Runs an engine's tools against one connection, with credentials kept off argv.

    Use as a context manager: the private temporary directory holding credential files
    is removed on exit.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tmp: str | None = None
        self.env: dict[str, str] = dict(os.environ)
        self.inner_env: list[str] = []  # names passed into the container with docker exec -e NAME
        self.files: dict[str, str] = {}

    def __enter__(self) -> Client:
        self.tmp = tempfile.mkdtemp(prefix="opsdeck-backup-")
        os.chmod(self.tmp, 0o700)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def secret_file(self, name: str, content: str) -> str:
        if not self.tmp:
            raise BackupError("internal: Client used outside its context")
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        return path

    def set_secret_env(self, name: str, value: str) -> None:
        self.env[name] = value
        if name not in self.inner_env:
            self.inner_env.append(name)

    def argv(self, tool_argv: list[str], *, stdin: bool = False) -> list[str]:
        """The full command: the tool itself, or ``docker exec`` of it in the container."""
        if not self.conn.container:
            return tool_argv
        wrapped = [self.conn.docker, "exec"]
        if stdin:
            wrapped.append("-i")
        for name in self.inner_env:
            wrapped += ["-e", name]
        return [*wrapped, self.conn.container, *tool_argv]

    def run(self, tool_argv: list[str], *, what: str, data: bytes | None = None, timeout: float = 600) -> str:
        """Run a short command to completion; raise BackupError with its stderr when it fails."""
        argv = self.argv(tool_argv, stdin=data is not None)
        try:
            proc = subprocess.run(argv, input=data, capture_output=True, env=self.env, timeout=timeout, check=False)
        except FileNotFoundError:
            raise BackupError(f"{what}: {argv[0]} is not installed") from None
        except subprocess.TimeoutExpired:
            raise BackupError(f"{what}: {argv[0]} did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise BackupError(
                f"{what}: {tool_argv[0]} exited {proc.returncode}: {self.mask(tail(proc.stderr or proc.stdout))}"
            )
        return proc.stdout.decode(errors="replace")

    def mask(self, text: str) -> str:
        return mask(text, [self.conn.password])


class StreamCheck:
    """Watches a dump as it streams by; ``finish`` raises when it is not a complete dump.

    ``feed`` returns the bytes to pass on (a check may hold some back, see Redis).
    """

    def __init__(self) -> None:
        self.head = b""
        self.size = 0

    def feed(self, chunk: bytes) -> bytes:
        if len(self.head) < 256:
            self.head += chunk[: 256 - len(self.head)]
        self.size += len(chunk)
        return chunk

    def finish(self, stderr: str) -> tuple[bytes, str]:
        """Trailing bytes to pass on, and a one-line summary of what was checked."""
        return b"", f"{self.size} bytes"

    def needs_more(self) -> bool:
        """Whether the check must still see the stream's bytes. When it says no, the rest of the
        dump may go to the compressor without passing through this process (``passed`` counts it).
        The safe default is yes: a check that looks at the end of a stream must see all of it."""
        return True

    def passed(self, size: int) -> None:
        """``size`` more bytes went by unseen (after ``needs_more`` said no)."""
        self.size += size

    def close(self) -> None:
        """Release what the check started (called on success and failure)."""


class _TailCheck(StreamCheck):
    """A check that also keeps the last ``TAIL`` bytes of the stream (``self.last``)."""

    TAIL = 512

    def __init__(self) -> None:
        super().__init__()
        self.last = b""

    def feed(self, chunk: bytes) -> bytes:
        super().feed(chunk)
        self.last = (self.last + chunk[-self.TAIL :])[-self.TAIL :]
        return chunk


class Engine:
    name = ""
    ext = "dump"
    dump_tool = ""
    restore_tool = ""
    test_database_prefix = "opsdeck_verify_"

    def client(self, conn: Connection) -> contextlib.AbstractContextManager[Client]:
        return _client(self, conn)

    # The variable the engine's tools read a password from (set inside a container, where a
    # credential file of this host cannot be seen).
    password_env = ""

    def login(self, client: Client) -> None:
        """Put the credentials where the tools read them: the environment variable inside a
        container (or for tools that read nothing else), else a private file (``login_files``)."""
        conn = client.conn
        if conn.container or not self.uses_files:
            if conn.password and self.password_env:
                client.set_secret_env(self.password_env, conn.password)
            return
        self.login_files(client)

    uses_files = False

    def login_files(self, client: Client) -> None:
        """Write the credentials to 0600 files in the client's private directory."""

    def dump_argv(self, client: Client) -> list[str]:
        raise NotImplementedError

    def check(self, client: Client) -> StreamCheck:
        return StreamCheck()

    def version(self, client: Client) -> str:
        try:
            return client.run([self.dump_tool, "--version"], what=f"{self.dump_tool} --version", timeout=30).strip()
        except BackupError as exc:
            return f"unknown ({exc})"

    def restore_argv(self, client: Client, *, clean: bool) -> list[str]:
        raise NotImplementedError

    def exists(self, client: Client) -> bool:
        raise NotImplementedError

    def is_empty(self, client: Client) -> bool:
        raise NotImplementedError

    def create(self, client: Client) -> None:
        raise NotImplementedError

    def drop(self, client: Client) -> None:
        raise NotImplementedError

    def query(self, client: Client, sql: str) -> str:
        raise NotImplementedError

    def hint(self, path: str) -> str:
        """The restore by hand with standard tools, for the manifest and the docs."""
        return ""


@contextlib.contextmanager
def _client(engine: Engine, conn: Connection) -> Iterator[Client]:
    with Client(conn) as client:
        engine.login(client)
        yield client


# --------------------------------------------------------------------------- PostgreSQL


def _pgpass_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


class _PgCustomCheck(StreamCheck):
    """A custom-format archive: the magic ``PGDMP``, and ``pg_restore --list`` reads its table of
    contents from the stream (it stops reading after the TOC; a cut TOC makes it fail)."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client
        argv = client.argv(["pg_restore", "--list"], stdin=True)
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally/close()
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finally/close()
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=self.out, stderr=self.err, env=client.env
            )
        except FileNotFoundError:
            raise BackupError(
                f"format check: {argv[0]} is not installed (pg_restore is needed to check a dump)"
            ) from None
        self.open = True

    def feed(self, chunk: bytes) -> bytes:
        super().feed(chunk)
        if self.open and self.proc is not None:
            try:
                self.proc.stdin.write(chunk)
            except (BrokenPipeError, ValueError):
                self.open = False
        return chunk

    def needs_more(self) -> bool:
        # The header and the table of contents are all it reads: pg_restore --list exits after the TOC.
        return len(self.head) < 256 or self.open

    def finish(self, stderr: str) -> tuple[bytes, str]:
        if not self.head.startswith(b"PGDMP"):
            raise BackupError("the dump is not a PostgreSQL custom-format archive (no PGDMP header)")
        if self.proc is None or self.proc.stdin is None:
            raise BackupError("internal: the format check was not started")
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.proc.stdin.close()
        rc = self.proc.wait(timeout=120)
        self.out.seek(0)
        self.err.seek(0)
        listing = self.out.read().decode(errors="replace")
        if rc != 0:
            raise BackupError(
                f"pg_restore --list refused the dump (exit {rc}): {self.client.mask(tail(self.err.read()))}"
            )
        entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
        return b"", f"pg_restore --list: {len(entries)} entries"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


class Postgres(Engine):
    name = "postgres"
    ext = "pgdump"
    dump_tool = "pg_dump"
    restore_tool = "pg_restore"

    password_env = "PGPASSWORD"
    uses_files = True

    def login_files(self, client: Client) -> None:
        conn = client.conn
        client.env.pop("PGPASSWORD", None)
        line = f"*:*:*:*:{_pgpass_escape(conn.password)}\n" if conn.password else ""
        client.env["PGPASSFILE"] = client.secret_file("pgpass", line)

    def _server_args(self, client: Client) -> list[str]:
        conn = client.conn
        args = ["--no-password"]
        if conn.host:
            args += ["--host", conn.host]
        if conn.port:
            args += ["--port", str(conn.port)]
        if conn.user:
            args += ["--username", conn.user]
        return args

    def _conn_args(self, client: Client, database: str | None = None) -> list[str]:
        return [*self._server_args(client), "--dbname", database or client.conn.database]

    def dump_argv(self, client: Client) -> list[str]:
        # No compression here: zstd after it is faster and compresses better (ENVIRONMENT.md).
        return ["pg_dump", "--format=custom", "--compress=0", *self._conn_args(client)]

    def globals_argv(self, client: Client) -> list[str]:
        return ["pg_dumpall", "--globals-only", *self._server_args(client)]

    def check(self, client: Client) -> StreamCheck:
        return _PgCustomCheck(client)

    def restore_argv(self, client: Client, *, clean: bool) -> list[str]:
        extra = ["--clean", "--if-exists"] if clean else []
        return ["pg_restore", "--exit-on-error", "--single-transaction", *extra, *self._conn_args(client)]

    def _psql(self, client: Client, sql: str, database: str | None = None, what: str = "psql") -> str:
        argv = ["psql", "--no-psqlrc", "--tuples-only", "--no-align", "--set=ON_ERROR_STOP=1"]
        return client.run([*argv, *self._conn_args(client, database), "--command", sql], what=what).strip()

    def exists(self, client: Client) -> bool:
        name = client.conn.database.replace("'", "''")
        found = self._psql(client, f"SELECT 1 FROM pg_database WHERE datname = '{name}'", "postgres", "list databases")
        return found == "1"

    def is_empty(self, client: Client) -> bool:
        count = self._psql(
            client,
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
            what=f"count the relations of {client.conn.database}",
        )
        return count == "0"

    def create(self, client: Client) -> None:
        ident = client.conn.database.replace('"', '""')
        self._psql(client, f'CREATE DATABASE "{ident}"', "postgres", f"create database {client.conn.database}")

    def drop(self, client: Client) -> None:
        ident = client.conn.database.replace('"', '""')
        self._psql(client, f'DROP DATABASE IF EXISTS "{ident}" WITH (FORCE)', "postgres", "drop the test database")

    def query(self, client: Client, sql: str) -> str:
        return self._psql(client, sql, what="the verification query")

    def hint(self, path: str) -> str:
        return f"age -d -i KEY.txt {path} | zstd -d | pg_restore --exit-on-error --single-transaction -d DBNAME"


# --------------------------------------------------------------------------- MySQL / MariaDB


class _MysqlCheck(_TailCheck):
    """mysqldump writes ``-- Dump completed`` as its last line only when it finished."""

    def finish(self, stderr: str) -> tuple[bytes, str]:
        # MariaDB >= 10.11.8 starts with a "sandbox mode" comment line before its header.
        if b"-- MySQL dump" not in self.head and b"-- MariaDB dump" not in self.head:
            raise BackupError("the dump does not start like a mysqldump file")
        if b"-- Dump completed" not in self.last:
            raise BackupError("the dump is incomplete: mysqldump did not write its '-- Dump completed' line")
        return b"", f"mysqldump completion line present, {self.size} bytes"


def _mycnf_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class Mysql(Engine):
    name = "mysql"
    ext = "sql"
    dump_tool = "mysqldump"
    restore_tool = "mysql"

    password_env = "MYSQL_PWD"
    uses_files = True

    def login_files(self, client: Client) -> None:
        conn = client.conn
        lines = ["[client]"]
        if conn.password:
            lines.append(f'password="{_mycnf_escape(conn.password)}"')
        client.files["defaults"] = client.secret_file("my.cnf", "\n".join(lines) + "\n")

    def _args(self, client: Client) -> list[str]:
        conn = client.conn
        args = [f"--defaults-extra-file={client.files['defaults']}"] if "defaults" in client.files else []
        if conn.host:
            args += ["--host", conn.host, "--protocol=TCP"]
        if conn.port:
            args += ["--port", str(conn.port)]
        if conn.user:
            args += ["--user", conn.user]
        return args

    def dump_argv(self, client: Client) -> list[str]:
        # No --databases: the dump then has no CREATE DATABASE / USE, so it restores into any name.
        return [
            "mysqldump",
            *self._args(client),
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--default-character-set=utf8mb4",
            client.conn.database,
        ]

    def check(self, client: Client) -> StreamCheck:
        return _MysqlCheck()

    def restore_argv(self, client: Client, *, clean: bool) -> list[str]:
        return ["mysql", *self._args(client), "--default-character-set=utf8mb4", client.conn.database]

    def _mysql(self, client: Client, sql: str, *, database: str | None = None, what: str = "mysql") -> str:
        argv = ["mysql", *self._args(client), "--batch", "--skip-column-names", "--execute", sql]
        if database:
            argv.append(database)
        return client.run(argv, what=what).strip()

    def _quoted(self, client: Client) -> str:
        return client.conn.database.replace("'", "''")

    def exists(self, client: Client) -> bool:
        sql = f"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{self._quoted(client)}'"
        return self._mysql(client, sql, what="list databases") == "1"

    def is_empty(self, client: Client) -> bool:
        sql = f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{self._quoted(client)}'"
        return self._mysql(client, sql, what=f"count the tables of {client.conn.database}") == "0"

    def create(self, client: Client) -> None:
        ident = client.conn.database.replace("`", "``")
        self._mysql(client, f"CREATE DATABASE `{ident}`", what=f"create database {client.conn.database}")

    def drop(self, client: Client) -> None:
        ident = client.conn.database.replace("`", "``")
        self._mysql(client, f"DROP DATABASE IF EXISTS `{ident}`", what="drop the test database")

    def query(self, client: Client, sql: str) -> str:
        return self._mysql(client, sql, database=client.conn.database, what="the verification query")

    def hint(self, path: str) -> str:
        return f"age -d -i KEY.txt {path} | zstd -d | mysql DBNAME"


class Mariadb(Mysql):
    name = "mariadb"


# --------------------------------------------------------------------------- Redis


class _RdbCheck(StreamCheck):
    """An RDB file: ``REDIS`` magic, and it ends with the EOF opcode 0xFF and an 8-byte CRC.

    redis-cli 7.0, when the server sends the RDB "diskless" (ended by a 40-byte EOF mark),
    writes that mark to its output too and then truncates the file; a pipe cannot be
    truncated, so the mark would reach the backup. The check holds back the last 40 bytes
    and drops them when redis-cli said it read "until EOF marker".
    """

    MARK = 40

    def __init__(self) -> None:
        super().__init__()
        self.held = b""
        self.last = b""

    def feed(self, chunk: bytes) -> bytes:
        super().feed(chunk)
        data = self.held + chunk
        out, self.held = data[: -self.MARK], data[-self.MARK :]
        if out:
            self.last = (self.last + out)[-64:]
        return out

    def finish(self, stderr: str) -> tuple[bytes, str]:
        rest = self.held
        if "EOF marker" in stderr:
            rest = b""
            self.size -= self.MARK
        tail_bytes = (self.last + rest)[-9:]
        if not self.head.startswith(b"REDIS"):
            raise BackupError("the dump is not a Redis RDB file (no REDIS header)")
        if len(tail_bytes) < 9 or tail_bytes[0] != 0xFF:
            raise BackupError("the Redis RDB file is incomplete (no end-of-file opcode)")
        return rest, f"RDB {self.head[5:9].decode(errors='replace')} header and end-of-file opcode, {self.size} bytes"


class Redis(Engine):
    name = "redis"
    ext = "rdb"
    dump_tool = "redis-cli"
    restore_tool = "redis-check-rdb"

    password_env = "REDISCLI_AUTH"

    def _args(self, client: Client) -> list[str]:
        conn = client.conn
        args = ["redis-cli", "--no-auth-warning"]
        if conn.host:
            args += ["-h", conn.host]
        if conn.port:
            args += ["-p", str(conn.port)]
        if conn.user:
            args += ["--user", conn.user]
        return args

    def dump_argv(self, client: Client) -> list[str]:
        return [*self._args(client), "--rdb", "-"]

    def check(self, client: Client) -> StreamCheck:
        return _RdbCheck()

    def command(self, client: Client, words: list[str], what: str = "redis-cli") -> str:
        return client.run([*self._args(client), *words], what=what).strip()

    def hint(self, path: str) -> str:
        return (
            f"age -d -i KEY.txt {path} | zstd -d > dump.rdb; redis-check-rdb dump.rdb; "
            "stop redis, put dump.rdb in its dir (appendonly off), start it"
        )


# --------------------------------------------------------------------------- MongoDB


class _MongoArchiveCheck(StreamCheck):
    MAGIC = bytes.fromhex("6de29981")

    def finish(self, stderr: str) -> tuple[bytes, str]:
        if not self.head.startswith(self.MAGIC):
            raise BackupError("the dump is not a mongodump archive (bad magic number)")
        return b"", f"mongodump archive, {self.size} bytes"


class Mongodb(Engine):
    """MongoDB through mongodump --archive. Untested here: no MongoDB server can be had on
    the machines this collection is tested on (see docs/backup.md)."""

    name = "mongodb"
    ext = "archive"
    dump_tool = "mongodump"
    restore_tool = "mongorestore"

    def login(self, client: Client) -> None:
        conn = client.conn
        if conn.password:
            # mongodump reads the password from a YAML --config file.
            client.files["config"] = client.secret_file("mongo.yml", f"password: {_yaml_quote(conn.password)}\n")

    def _args(self, client: Client) -> list[str]:
        conn = client.conn
        args = [f"--config={client.files['config']}"] if "config" in client.files else []
        if conn.host:
            args.append(f"--host={conn.host}")
        if conn.port:
            args.append(f"--port={conn.port}")
        if conn.user:
            args += [f"--username={conn.user}", "--authenticationDatabase=admin"]
        return args

    def dump_argv(self, client: Client) -> list[str]:
        return ["mongodump", *self._args(client), f"--db={client.conn.database}", "--archive", "--quiet"]

    def check(self, client: Client) -> StreamCheck:
        return _MongoArchiveCheck()

    def restore_argv(self, client: Client, *, clean: bool) -> list[str]:
        extra = ["--drop"] if clean else []
        return ["mongorestore", *self._args(client), "--archive", f"--nsInclude={client.conn.database}.*", *extra]

    def hint(self, path: str) -> str:
        return f"age -d -i KEY.txt {path} | zstd -d | mongorestore --archive"


# --------------------------------------------------------------------------- files and volumes


class _TarCheck(_TailCheck):
    """A tar archive ends with two 512-byte blocks of zeros (GNU tar pads to a 10 KiB record)."""

    TAIL = 1024

    def finish(self, stderr: str) -> tuple[bytes, str]:
        if self.size % 512 or self.last != bytes(1024):
            raise BackupError("the tar archive is incomplete (it does not end with two zero blocks)")
        return b"", f"tar archive of {self.size} bytes, end-of-archive blocks present"


class Files(Engine):
    """Files and directories (a volume's mount point, an upload directory) as one tar archive.

    GNU tar exits 1 when a file changed while it was read: that archive is refused like any
    failed dump (stop the writer, or back up a snapshot). With ``container`` the archive is
    made inside the container, so a compose volume is read where it is mounted.
    """

    name = "files"
    ext = "tar"
    dump_tool = "tar"
    restore_tool = "tar"

    def dump_argv(self, client: Client) -> list[str]:
        paths = client.conn.paths
        if not paths:
            raise BackupError("files: give the paths to back up")
        bad = [p for p in paths if not p.startswith("/") or ".." in p.split("/")]
        if bad:
            raise BackupError(f"files: paths must be absolute, without '..': {', '.join(bad)}")
        relative = [p.lstrip("/") or "." for p in paths]
        return ["tar", "--create", "--file=-", "--directory=/", "--numeric-owner", "--sparse", "--", *relative]

    def check(self, client: Client) -> StreamCheck:
        return _TarCheck()

    def restore_argv(self, client: Client, *, clean: bool) -> list[str]:
        return ["tar", "--extract", "--file=-", f"--directory={client.conn.database}", "--numeric-owner"]

    def hint(self, path: str) -> str:
        return f"age -d -i KEY.txt {path} | zstd -d | tar -x -C TARGET_DIR"


def _yaml_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_ENGINES: dict[str, type[Engine]] = {
    "postgres": Postgres,
    "mysql": Mysql,
    "mariadb": Mariadb,
    "redis": Redis,
    "mongodb": Mongodb,
    "files": Files,
}


def engine_for(name: str) -> Engine:
    try:
        return _ENGINES[name]()
    except KeyError:
        raise BackupError(f"engine must be one of {', '.join(ENGINES)}, got {name!r}") from None


def test_database_name(engine: Engine, backup_id: str) -> str:
    """A throwaway database name for a test restore, valid for every engine."""
    return engine.test_database_prefix + re.sub(r"[^a-z0-9_]", "_", backup_id.lower())[:40]


def connection_from(spec: dict[str, Any]) -> Connection:
    """A Connection from a job mapping (the normalized model's database plus host details)."""
    engine = spec.get("engine")
    if engine not in ENGINES:
        raise BackupError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    name = spec.get("database") or spec.get("name")
    if not name:
        raise BackupError("database: a name is required")
    return Connection(
        engine=engine,
        database=name,
        host=spec.get("host"),
        port=spec.get("port"),
        user=spec.get("user"),
        password=spec.get("password"),
        container=spec.get("container"),
        docker=spec.get("docker") or "docker",
        paths=tuple(spec.get("paths") or ()),
    )
