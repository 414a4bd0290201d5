# SPDX-License-Identifier: GPL-3.0-or-later
"""Deploy a Docker Compose project with a health gate, revisions and automatic rollback.

What community.docker's ``docker_compose_v2`` lacks, and this adds:

- a **health gate**: after ``up``, every container of every expected service must be
  running, Docker-healthy when it has a health check, and answer the model's HTTP health
  check (probed from the host, so the image needs no curl); then post-deploy smoke
  checks (HTTP status and body);
- **revisions**: each healthy deployment is kept under ``revisions/<n>/`` with its images
  pinned by digest (and its secrets, 0600), last N kept;
- **rollback**: a failed gate, hook or pull restores the last healthy revision, brings it
  up again, and fails with a message that names the service and its last health output;
- **diff** of the compose file, and a check mode that changes nothing;
- secrets written to files (0600 env file, 0400 per-secret files owned by the
  container's user), never into the compose file or a command line.

The Docker CLI is driven through a ``run`` callable (``AnsibleModule.run_command`` in
the module) so the logic is testable without Ansible.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

try:
    import yaml
except ImportError:  # reported by the modules (HAS_YAML)
    yaml = None
from ansible.module_utils.urls import open_url

HAS_YAML = yaml is not None
Runner = Callable[..., tuple[int, str, str]]

HEADER = "# Managed by opsdeck.platform (compose_project). Local changes are overwritten.\n"
COMPOSE_FILE = "compose.yaml"
SECRETS_ENV = "secrets.env"
SECRETS_DIR = "secrets"
STATE_FILE = "state.json"
REVISIONS_DIR = "revisions"


class ComposeError(Exception):
    """A deployment step failed; the message says which and why."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.result = result


def dump_definition(definition: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(definition, sort_keys=False, default_flow_style=False, width=1000)


def render_env_file(secrets: dict[str, str]) -> str:
    """A Compose env file whose values Compose reads back exactly.

    Values are double-quoted with backslash, double quote, dollar and newline escaped:
    Compose's env-file parser undoes exactly those escapes and interpolates nothing.
    """
    lines = []
    for key in sorted(secrets):
        value = str(secrets[key])
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + ("\n" if lines else "")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _write_atomic(path: str, content: str, mode: int, owner: tuple[int, int] | None = None) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        if owner is not None and os.geteuid() == 0:
            os.fchown(fd, owner[0], owner[1])
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _owner(user: str | None) -> tuple[int, int] | None:
    if not user:
        return None
    uid, _sep, gid = str(user).partition(":")
    if not uid.isdigit():
        return None
    return int(uid), int(gid) if gid.isdigit() else int(uid)


@dataclass
class Container:
    id: str
    name: str
    service: str
    state: str
    health: str  # "", "starting", "healthy", "unhealthy"
    ip: str | None
    image: str  # the reference the container was created from
    image_id: str
    health_output: str = ""

    def summary(self) -> dict[str, Any]:
        """What the modules return about a container."""
        return {
            "service": self.service,
            "container": self.name,
            "state": self.state,
            "health": self.health or None,
            "image": self.image,
        }


@dataclass
class GateResult:
    ok: bool
    failing: dict[str, str] = field(default_factory=dict)  # service -> last output
    # Docker marked a container unhealthy (its retries are spent): like `docker compose up
    # --wait`, the gate fails at once instead of waiting out the timeout.
    final: bool = False


def list_containers(run: Runner, docker: str, project: str | None = None) -> dict[str, list[Container]]:
    """Containers of one Compose project, or of every project, by project name (one-off runs left out)."""
    label = f"com.docker.compose.project={project}" if project else "com.docker.compose.project"
    rc, out, err = run([docker, "ps", "-a", "-q", "--no-trunc", "--filter", f"label={label}"])
    if rc != 0:
        raise ComposeError(f"docker ps failed: {err.strip()}")
    ids = out.split()
    if not ids:
        return {}
    rc, out, err = run([docker, "inspect", *ids])
    if rc != 0:
        raise ComposeError(f"docker inspect failed: {err.strip()}")
    result: dict[str, list[Container]] = {}
    for item in json.loads(out):
        labels = item["Config"].get("Labels") or {}
        if labels.get("com.docker.compose.oneoff") == "True":
            continue
        name = labels.get("com.docker.compose.project", "")
        health = (item["State"].get("Health") or {}) if item.get("State") else {}
        log = health.get("Log") or []
        nets = (item.get("NetworkSettings") or {}).get("Networks") or {}
        default_net = nets.get(f"{name}_default") or next(iter(nets.values()), {})
        result.setdefault(name, []).append(
            Container(
                id=item["Id"],
                name=item["Name"].lstrip("/"),
                service=labels.get("com.docker.compose.service", ""),
                state=item["State"]["Status"],
                health=health.get("Status", ""),
                ip=(default_net or {}).get("IPAddress") or None,
                image=item["Config"]["Image"],
                image_id=item["Image"],
                health_output=(log[-1].get("Output", "") if log else "").strip(),
            )
        )
    return result


class ComposeProject:
    def __init__(self, run: Runner, project_dir: str, name: str, *, docker: str = "docker") -> None:
        self.run = run
        self.dir = project_dir
        self.name = name
        self.docker = docker
        self.profiles: list[str] = []
        # set by a caller that listed every project's containers in one go (compose_project_info)
        self.containers_cache: list[Container] | None = None

    # ----- paths and files -------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def read_state(self) -> dict[str, Any]:
        text = _read(self.path(STATE_FILE))
        return json.loads(text) if text else {}

    def write_state(self, state: dict[str, Any]) -> None:
        _write_atomic(self.path(STATE_FILE), json.dumps(state, indent=2, sort_keys=True) + "\n", 0o600)

    def current_secrets(self) -> dict[str, str | None]:
        names = []
        sdir = self.path(SECRETS_DIR)
        if os.path.isdir(sdir):
            names = sorted(os.listdir(sdir))
        return {n: _read(os.path.join(sdir, n)) for n in names}

    def write_files(self, compose_text: str, secrets: dict[str, str], secret_owner: str | None) -> None:
        os.makedirs(self.dir, mode=0o750, exist_ok=True)
        sdir = self.path(SECRETS_DIR)
        if secrets:
            os.makedirs(sdir, mode=0o700, exist_ok=True)
            owner = _owner(secret_owner)
            os.chmod(sdir, 0o700)  # the daemon (root) resolves bind mounts; nobody else needs in
            for key, value in secrets.items():
                _write_atomic(os.path.join(sdir, key), str(value), 0o400, owner)
            for stale in set(os.listdir(sdir)) - set(secrets):
                os.unlink(os.path.join(sdir, stale))
            _write_atomic(self.path(SECRETS_ENV), render_env_file(secrets), 0o600)
        else:
            if os.path.isdir(sdir):
                shutil.rmtree(sdir)
            if os.path.exists(self.path(SECRETS_ENV)):
                os.unlink(self.path(SECRETS_ENV))
        _write_atomic(self.path(COMPOSE_FILE), compose_text, 0o640)

    # ----- docker ----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {"COMPOSE_PROJECT_NAME": self.name}
        if self.profiles:
            env["COMPOSE_PROFILES"] = ",".join(self.profiles)
        return env

    def compose(self, *args: str, check: bool = True, timeout: int | None = None) -> tuple[int, str, str]:
        argv = [self.docker, "compose", "--project-name", self.name, "--project-directory", self.dir]
        if os.path.exists(self.path(COMPOSE_FILE)):
            argv += ["--file", self.path(COMPOSE_FILE)]
        argv += list(args)
        rc, out, err = self.run(argv, cwd=self.dir if os.path.isdir(self.dir) else None, environ_update=self.env())
        if check and rc != 0:
            raise ComposeError(
                f"project '{self.name}': docker compose {args[0]} failed (exit {rc}): {err.strip() or out.strip()}"
            )
        return rc, out, err

    def containers(self) -> list[Container]:
        if self.containers_cache is not None:
            return list(self.containers_cache)
        return list_containers(self.run, self.docker, self.name).get(self.name, [])

    def expected_services(self, definition: dict[str, Any]) -> dict[str, int]:
        """Services that `up` starts with the active profiles, and their replica counts."""
        expected = {}
        for name, svc in (definition.get("services") or {}).items():
            profiles = svc.get("profiles") or []
            if profiles and not set(profiles) & set(self.profiles):
                continue
            expected[name] = int((svc.get("deploy") or {}).get("replicas", 1))
        return expected

    # ----- health gate -----------------------------------------------------------------
    @staticmethod
    def http_probe(url: str, timeout: float) -> tuple[int | None, str]:
        try:
            # a container address of this project; no proxy in between
            with open_url(url, timeout=timeout, use_proxy=False, validate_certs=False) as resp:
                return resp.status, resp.read(2048).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(2048).decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            return None, str(getattr(exc, "reason", exc))

    def check_once(self, definition: dict[str, Any], health_checks: list[dict[str, Any]]) -> GateResult:
        expected = self.expected_services(definition)
        by_service: dict[str, list[Container]] = {}
        for c in self.containers():
            by_service.setdefault(c.service, []).append(c)
        failing: dict[str, str] = {}
        final = False
        for service, replicas in expected.items():
            running = [c for c in by_service.get(service, []) if c.state == "running"]
            if len(running) < replicas:
                others = [c for c in by_service.get(service, []) if c.state != "running"]
                detail = f"; container {others[0].name} is {others[0].state}" if others else ""
                failing[service] = f"{len(running)}/{replicas} containers running{detail}"
                continue
            for c in running:
                if c.health in ("starting", "unhealthy"):
                    failing[service] = f"container {c.name} is {c.health}: {c.health_output or 'no output yet'}"
                    final = final or c.health == "unhealthy"
                    break
            if service in failing:
                continue
            for check in (h for h in health_checks if h["service"] == service):
                for c in running:
                    if not c.ip:
                        failing[service] = f"container {c.name} has no address on the project network"
                        break
                    url = f"{check.get('scheme', 'http')}://{c.ip}:{check['port']}{check['path']}"
                    status, body = self.http_probe(url, float(check.get("timeout_s", 3)))
                    if status is None or not 200 <= status < 300:
                        shown = f"HTTP {status}" if status else "no answer"
                        failing[service] = f"GET {check['path']} on {c.name}: {shown}: {body.strip()[:300]}"
                        break
                if service in failing:
                    break
        return GateResult(ok=not failing, failing=failing, final=final)

    def wait_healthy(
        self, definition: dict[str, Any], health_checks: list[dict[str, Any]], timeout: float, interval: float = 1.0
    ) -> GateResult:
        deadline = time.monotonic() + timeout
        while True:
            result = self.check_once(definition, health_checks)
            if result.ok or time.monotonic() >= deadline or result.final:
                return result
            time.sleep(interval)

    def smoke(self, smoke_checks: list[dict[str, Any]]) -> dict[str, str]:
        failures: dict[str, str] = {}
        containers = [c for c in self.containers() if c.state == "running"]
        for check in smoke_checks:
            targets = [c for c in containers if c.service == check["service"]]
            if not targets:
                failures[check["name"]] = f"no running container of service '{check['service']}'"
                continue
            c = targets[0]
            url = f"http://{c.ip}:{check['port']}{check['path']}"
            status, body = self.http_probe(url, 5.0)
            shown = body.strip()[:200]
            expected = check.get("status", 200)
            if status != expected:
                failures[check["name"]] = f"GET {check['path']}: expected HTTP {expected}, got {status}: {shown}"
            elif check.get("body_contains") and check["body_contains"] not in body:
                failures[check["name"]] = f"GET {check['path']}: body lacks {check['body_contains']!r}: {shown}"
        return failures

    # ----- revisions -------------------------------------------------------------------
    def pinned_definition(self, definition: dict[str, Any]) -> dict[str, Any]:
        """The definition with each service's image replaced by the digest it runs now."""
        pinned = json.loads(json.dumps(definition))
        running = {}
        for c in self.containers():
            if c.state == "running":
                running.setdefault(c.service, c)
        for service, svc in pinned.get("services", {}).items():
            c = running.get(service)
            if not c:
                continue
            rc, out, _err = self.run([self.docker, "image", "inspect", "--format", "{{json .RepoDigests}}", c.image_id])
            digests = json.loads(out) if rc == 0 and out.strip() else []
            repo = c.image.rsplit("@", 1)[0]
            repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
            match = next((d for d in digests or [] if d.startswith(repo + "@")), None)
            svc["image"] = match or c.image_id
            svc["pull_policy"] = "missing"
        return pinned

    def save_revision(
        self, number: int, definition: dict[str, Any], keep: int, health_checks: list[dict[str, Any]]
    ) -> None:
        rdir = self.path(REVISIONS_DIR, f"{number:04d}")
        if os.path.isdir(rdir):
            shutil.rmtree(rdir)
        os.makedirs(rdir, mode=0o700)
        os.chmod(self.path(REVISIONS_DIR), 0o700)
        _write_atomic(os.path.join(rdir, COMPOSE_FILE), dump_definition(self.pinned_definition(definition)), 0o600)
        meta = {"revision": number, "saved_at": time.time(), "health_checks": health_checks}
        _write_atomic(os.path.join(rdir, "meta.json"), json.dumps(meta, indent=2) + "\n", 0o600)
        if os.path.exists(self.path(SECRETS_ENV)):
            shutil.copy2(self.path(SECRETS_ENV), os.path.join(rdir, SECRETS_ENV))
        if os.path.isdir(self.path(SECRETS_DIR)):
            shutil.copytree(self.path(SECRETS_DIR), os.path.join(rdir, SECRETS_DIR))
        revisions = sorted(d for d in os.listdir(self.path(REVISIONS_DIR)) if d.isdigit())
        for old in revisions[: max(0, len(revisions) - keep)]:
            shutil.rmtree(self.path(REVISIONS_DIR, old))

    def restore_revision(self, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rdir = self.path(REVISIONS_DIR, f"{number:04d}")
        text = _read(os.path.join(rdir, COMPOSE_FILE))
        if text is None:
            raise ComposeError(f"project '{self.name}': revision {number} is missing in {rdir}")
        _write_atomic(self.path(COMPOSE_FILE), text, 0o640)
        if os.path.exists(os.path.join(rdir, SECRETS_ENV)):
            shutil.copy2(os.path.join(rdir, SECRETS_ENV), self.path(SECRETS_ENV))
        elif os.path.exists(self.path(SECRETS_ENV)):
            os.unlink(self.path(SECRETS_ENV))
        if os.path.isdir(self.path(SECRETS_DIR)):
            shutil.rmtree(self.path(SECRETS_DIR))
        if os.path.isdir(os.path.join(rdir, SECRETS_DIR)):
            shutil.copytree(os.path.join(rdir, SECRETS_DIR), self.path(SECRETS_DIR))
        meta = json.loads(_read(os.path.join(rdir, "meta.json")) or "{}")
        return yaml.safe_load(text), meta.get("health_checks", [])

    # ----- the verbs -------------------------------------------------------------------
    def status(self, definition: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            c.summary()
            for c in self.containers()
            if c.service in self.expected_services(definition) or c.state == "running"
        ]

    def info(
        self,
        definition: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        health_checks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The last recorded deployment and the containers; with a desired definition, whether it is in sync."""
        state = self.read_state()
        entry: dict[str, Any] = {
            "name": self.name,
            "deployed": os.path.exists(self.path(COMPOSE_FILE)),
            "status": state.get("status"),
            "revision": state.get("revision"),
            "containers": [c.summary() for c in self.containers()],
        }
        if definition is not None:
            entry["in_sync"], entry["reason"] = self.in_sync(definition, secrets, health_checks)
        return entry

    def in_sync(
        self, definition: dict[str, Any], secrets: dict[str, str] | None, health_checks: list[dict[str, Any]] | None
    ) -> tuple[bool, str]:
        """Whether the project runs exactly this definition and these secrets, healthy; else why not."""
        if dump_definition(definition) != _read(self.path(COMPOSE_FILE)):
            return False, "compose file differs" if os.path.exists(self.path(COMPOSE_FILE)) else "not deployed"
        if {k: str(v) for k, v in (secrets or {}).items()} != self.current_secrets():
            return False, "secrets differ"
        if self.read_state().get("status") != "healthy":
            return False, "last deployment failed"
        gate = self.check_once(definition, health_checks or [])
        if not gate.ok:
            return False, "; ".join(f"{k}: {v}" for k, v in sorted(gate.failing.items()))
        return True, "in sync and healthy"

    def present(
        self,
        definition: dict[str, Any],
        *,
        secrets: dict[str, str] | None = None,
        secret_owner: str | None = None,
        health_checks: list[dict[str, Any]] | None = None,
        smoke_checks: list[dict[str, Any]] | None = None,
        pre_deploy: list[dict[str, Any]] | None = None,
        wait_timeout: float = 120,
        revisions_keep: int = 5,
        pull: str = "missing",
        check_mode: bool = False,
    ) -> dict[str, Any]:
        secrets = {k: str(v) for k, v in (secrets or {}).items()}
        health_checks = health_checks or []
        new_text = dump_definition(definition)
        old_text = _read(self.path(COMPOSE_FILE))
        state = self.read_state()
        secrets_changed = secrets != self.current_secrets()
        diff = {
            "before": old_text or "",
            "after": new_text,
            "before_header": f"{self.dir}/{COMPOSE_FILE}",
            "after_header": f"{self.dir}/{COMPOSE_FILE}",
        }
        if secrets_changed:
            before = set(self.current_secrets())
            note = f"# secrets changed (values not shown): {', '.join(sorted(set(secrets) | before))}\n"
            diff["after"] += note
        if self.in_sync(definition, secrets, health_checks)[0]:
            return {
                "changed": False,
                "revision": state.get("revision"),
                "status": self.status(definition),
                "diff": diff,
                "rolled_back": False,
            }
        if check_mode:
            return {
                "changed": True,
                "revision": state.get("revision"),
                "status": [],
                "diff": diff,
                "rolled_back": False,
                "msg": "would deploy",
            }

        previous = state.get("revision") if state.get("status") == "healthy" else state.get("last_healthy")
        self.write_files(new_text, secrets, secret_owner)
        started = False
        try:
            if pull == "always":
                self.compose("pull", "--quiet")
            for hook in pre_deploy or []:
                self.run_hook(hook)
            started = True
            self.compose("up", "--detach", "--remove-orphans", "--pull", "never" if pull == "never" else "missing")
            gate = self.wait_healthy(definition, health_checks, wait_timeout)
            if not gate.ok:
                raise ComposeError(self.describe_unhealthy(gate, wait_timeout))
            failures = self.smoke(smoke_checks or [])
            if failures:
                raise ComposeError(
                    f"project '{self.name}': smoke checks failed: "
                    + "; ".join(f"{k}: {v}" for k, v in sorted(failures.items()))
                )
        except ComposeError as exc:
            self.write_state({**state, "status": "failed", "failed_at": time.time(), "last_healthy": previous})
            if not previous:
                rolled = "no healthy revision to roll back to"
            elif not started:
                # nothing was restarted: put the last healthy revision's files back, leave containers be
                self.restore_revision(previous)
                self.write_state({**state, "status": "healthy", "revision": previous, "last_healthy": previous})
                rolled = f"nothing restarted; revision {previous} still runs"
            else:
                rolled = self.rollback(previous, wait_timeout)
            raise ComposeError(
                f"{exc}; {rolled}",
                rolled_back=bool(previous),
                revision=previous,
                status=self.status(definition),
                diff=diff,
            ) from None
        number = int(previous or state.get("revision") or 0) + 1
        self.save_revision(number, definition, revisions_keep, health_checks)
        self.write_state({"status": "healthy", "revision": number, "deployed_at": time.time(), "last_healthy": number})
        return {
            "changed": True,
            "revision": number,
            "status": self.status(definition),
            "diff": diff,
            "rolled_back": False,
        }

    def describe_unhealthy(self, gate: GateResult, timeout: float) -> str:
        parts = [f"service '{svc}' is not healthy: {out}" for svc, out in sorted(gate.failing.items())]
        return f"project '{self.name}': " + "; ".join(parts)

    def run_hook(self, hook: dict[str, Any]) -> None:
        command = list(hook["command"])
        args = ["run", "--rm", "--no-deps", "-T", "--entrypoint", command[0], hook["service"], *command[1:]]
        rc, out, err = self.compose(*args, check=False)
        if rc != 0:
            output = (out + err).strip()[-500:]
            raise ComposeError(f"project '{self.name}': pre-deploy hook '{hook['name']}' failed (exit {rc}): {output}")

    def rollback(self, revision: int, wait_timeout: float) -> str:
        try:
            definition, checks = self.restore_revision(revision)
            self.compose("up", "--detach", "--remove-orphans", "--pull", "missing")
            gate = self.wait_healthy(definition, checks, wait_timeout)
        except ComposeError as exc:
            return f"rollback to revision {revision} FAILED: {exc}"
        if not gate.ok:
            return f"rolled back to revision {revision}, which is NOT healthy either: {gate.failing}"
        state = self.read_state()
        self.write_state({**state, "status": "healthy", "revision": revision, "last_healthy": revision})
        return f"rolled back to revision {revision} (healthy)"

    def absent(self, *, remove_volumes: bool = False, check_mode: bool = False) -> dict[str, Any]:
        exists = os.path.isdir(self.dir) or bool(self.containers())
        if not exists:
            return {"changed": False}
        if check_mode:
            return {"changed": True, "msg": "would remove"}
        args = ["down", "--remove-orphans"]
        if remove_volumes:
            args.append("--volumes")
        self.compose(*args)
        if os.path.isdir(self.dir):
            shutil.rmtree(self.dir)
        return {"changed": True}
