# SPDX-License-Identifier: GPL-3.0-or-later
"""Secret canary across the whole site (issue 19): no secret reaches any output of a run at -vvv.

``site.yml`` runs in check mode at ``-vvv`` through ansible-runner (as AAP runs it) against a
throwaway copy of ``inventories/local`` in which every secret the collection takes holds a distinct
canary value, kept in an encrypted vault as a site keeps it. Then stdout, stderr, every file of the
runner's artifacts (``job_events/*.json``, ``stdout``, ``command``, ...) and the fact cache
(jsonfile, ``artifacts/<ident>/fact_cache``) are searched for every canary, as it is and in base64
(slurp and b64encode leak that way). A hit names the canary (never its value), the task, the
stream or artifact, and shows the line with the canary replaced by ``***<name>***``.

The real-run half is the site molecule scenario: it runs at ``-vvv`` and tests/run_tiers.py searches
its log for every ``vault_*`` value of its group_vars the same way (tests/canary.py holds the search).

The run must reach the preflight of every role (and the site preflight), checked in the job events,
so the test cannot pass by dying early. Check mode stops some tasks that need real hosts (verify
finds no app deployed, for one): that is expected; a failure inside a preflight is not.

Hosts, all of them this machine (``ansible_connection: local``), nothing else is contacted
except the rig's registry on 127.0.0.1:5000 (the registry login is attempted there):
``localhost`` (docker_hosts, monitoring, logging), ``canary-edge`` (edge, with
``opsdeck_manage_docker: true`` so the docker_host role runs, registry logins included) and
``canary-backup`` (backup_hosts). Separate host names keep a failure of one role in check mode from
taking the others' plays away.

Secrets covered (every ``no_log: true`` option of roles/*/meta/argument_specs.yml, plus the model's):

- ``opsdeck_apps[].secrets``: ``API_TOKEN`` (vault_shop_api_token) and ``DATABASE_URL`` and
  ``POSTGRES_PASSWORD`` (both carry vault_shopdb_password);
- ``opsdeck_apps[].databases[].password`` (vault_shopdb_password);
- ``opsdeck_backup_store.access_key`` / ``.secret_key`` (vault_s3_access_key, vault_s3_secret_key);
- ``opsdeck_backup_prune_store.access_key`` / ``.secret_key`` (vault_s3_pruner_key, vault_s3_pruner_secret);
- ``opsdeck_backup_identity`` (vault_backup_age_identity, an age identity of the right form);
- ``opsdeck_backup_pitr_cipher_pass`` (vault_backup_pitr_cipher_pass; the local model has no PITR
  database, so only the preflight and the configuration audit read it);
- ``docker_host_registry_logins[].password`` (vault_registry_password);
- ``monitoring_alertmanager_receivers``: email ``auth_password``, slack ``api_url``, pagerduty
  ``routing_key``, webhook ``url`` (a token in each URL);
- ``monitoring_alertmanager_watchdog_url`` (a token in the URL);
- ``monitoring_alertmanager_smtp.auth_password``;
- ``monitoring_grafana_admin_password`` and ``monitoring_grafana_secrets``
  (``GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET``), with ``monitoring_grafana_service: false`` (the files only);
- ``edge_certificates[host].key`` (a real EC key; the canary is a line of its PEM body).

Not covered: the k8s_app role and the monitoring/logging ``kubernetes`` entry points (the local
inventory has no cluster, so the k8s phase matches no host); the logging role takes no secret.

Run alone: ``.venv/bin/python -m pytest tests/integration/test_secret_canary.py -v`` (needs the rig:
``make rig``). About a minute.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..canary import Leak, needles, scan_text, stdout_tasks

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCAL = ROOT / "inventories" / "local"
EDGE_HOST = "shop.canary.test"
# bech32 characters, upper case: what an age identity is made of (roles/backup/vars/main.yml)
_BECH32 = "023456789ACDEFGHJKLMNPQRSTUVWXYZ"
# The roles whose preflight the run must reach (tasks of roles/<role>/tasks/preflight.yml ran).
ROLES = ("docker_host", "database", "compose_app", "monitoring", "logging", "backup", "edge")


def _hex() -> str:
    return secrets.token_hex(8)


def _canaries(edge_key_line: str) -> dict[str, str]:
    """Vault variable name -> canary value; the names (never the values) appear in messages."""
    return {
        "vault_shop_api_token": f"CANARY-apitoken-{_hex()}",
        "vault_shopdb_password": f"CANARY-dbpass-{_hex()}",
        "vault_s3_access_key": f"CANARYS3ACCESS{_hex().upper()}",
        "vault_s3_secret_key": f"CANARY-s3secret-{_hex()}",
        "vault_s3_pruner_key": f"CANARYS3PRUNER{_hex().upper()}",
        "vault_s3_pruner_secret": f"CANARY-s3prunersecret-{_hex()}",
        "vault_backup_age_identity": "AGE-SECRET-KEY-1" + "".join(secrets.choice(_BECH32) for _char in range(58)),
        "vault_backup_pitr_cipher_pass": f"CANARY-pitrpass-{_hex()}{_hex()}",
        "vault_registry_password": f"CANARY-registrypass-{_hex()}",
        "vault_am_email_password": f"CANARY-amemailpass-{_hex()}",
        "vault_am_slack_token": f"CANARY-slacktoken-{_hex()}",
        "vault_am_pagerduty_key": f"CANARY-pdroutingkey-{_hex()}",
        "vault_am_webhook_token": f"CANARY-webhooktoken-{_hex()}",
        "vault_am_watchdog_token": f"CANARY-watchdogtoken-{_hex()}",
        "vault_am_smtp_password": f"CANARY-smtppass-{_hex()}",
        "vault_grafana_admin_password": f"CANARY-grafanaadmin-{_hex()}",
        "vault_grafana_oauth_secret": f"CANARY-grafanaoauth-{_hex()}",
        "vault_edge_key": edge_key_line,
    }


# The settings that take the secrets, loaded after the copied env.yml (zz_ sorts last: it wins).
SETTINGS = {
    "opsdeck_shop_public_host": EDGE_HOST,
    "opsdeck_shop_host_ip": "0.0.0.0",  # check mode binds nothing; the edge host must reach the app
    "opsdeck_backup_prune_store": {
        "type": "s3",
        "bucket": "opsdeck-demo-backups",
        "prefix": "local",
        "endpoint_url": "http://127.0.0.1:22900",
        "region": "us-east-1",
        "access_key": "{{ vault_s3_pruner_key }}",
        "secret_key": "{{ vault_s3_pruner_secret }}",
    },
    "opsdeck_backup_pitr_cipher_pass": "{{ vault_backup_pitr_cipher_pass }}",
    "monitoring_alertmanager_receivers": [
        {
            "name": "canary-email",
            "type": "email",
            "to": "ops@canary.test",
            "from": "alertmanager@canary.test",
            "smarthost": "127.0.0.1:25",
            "auth_username": "alertmanager",
            "auth_password": "{{ vault_am_email_password }}",
        },
        {
            "name": "canary-slack",
            "type": "slack",
            "api_url": "https://hooks.canary.test/services/{{ vault_am_slack_token }}",
        },
        {"name": "canary-pagerduty", "type": "pagerduty", "routing_key": "{{ vault_am_pagerduty_key }}"},
        {
            "name": "canary-webhook",
            "type": "webhook",
            "url": "https://hooks.canary.test/hook/{{ vault_am_webhook_token }}",
        },
    ],
    "monitoring_alertmanager_routes": [{"receiver": "canary-pagerduty", "severity": "critical"}],
    "monitoring_alertmanager_watchdog_url": "https://watchdog.canary.test/ping/{{ vault_am_watchdog_token }}",
    "monitoring_alertmanager_smtp": {
        "smarthost": "127.0.0.1:25",
        "from": "alertmanager@canary.test",
        "auth_username": "alertmanager",
        "auth_password": "{{ vault_am_smtp_password }}",
    },
    "monitoring_grafana": True,
    "monitoring_grafana_service": False,
    "monitoring_grafana_admin_password": "{{ vault_grafana_admin_password }}",
    "monitoring_grafana_secrets": {"GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": "{{ vault_grafana_oauth_secret }}"},
    "edge_root": "/var/lib/opsdeck-canary/edge",
    "edge_nginx_image": "{{ opsdeck_rig_images['nginx'] }}",
    "edge_exporter_image": "{{ opsdeck_rig_images['nginx-exporter'] }}",
    "edge_tls_mode": "selfsigned",
    "edge_http_port": 22780,
    "edge_https_port": 22743,
    "edge_status_port": 22781,
    "edge_exporter_port": 22713,
}

_LOCAL_HOST = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


@dataclass
class Site:
    inventory: Path
    vault_password_file: Path
    canaries: dict[str, str]


def _edge_certificate(where: Path) -> tuple[str, str]:
    """A self-signed certificate for EDGE_HOST and its EC key (PEM texts)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed on this host")
    key, cert = where / "edge.key", where / "edge.crt"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", f"/CN={EDGE_HOST}"),
            *("-addext", f"subjectAltName=DNS:{EDGE_HOST}"),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return cert.read_text(), key.read_text()


def _container_host(name: str) -> dict[str, str]:
    return {
        "ansible_connection": "community.docker.docker",
        "ansible_host": name,
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def _build_site(tmp_path: Path, hosts_of: dict[str, str]) -> Site:
    """A copy of inventories/local with a canary in every secret (vault encrypted) and the hosts above."""
    work = tmp_path / "secrets"
    work.mkdir(mode=0o700)
    cert, key = _edge_certificate(work)
    body = [ln for ln in key.splitlines() if ln and not ln.startswith("-----")]
    canaries = _canaries(max(body, key=len))

    inventory = tmp_path / "inventory"
    group_vars = inventory / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    for name in ("apps.yml", "env.yml", "platform.yml"):
        shutil.copyfile(LOCAL / "group_vars" / "all" / name, group_vars / name)  # follows the symlinks
    hosts = {
        "all": {
            "children": {
                "docker_hosts": {"hosts": {"localhost": {}}},
                "monitoring": {"hosts": {"localhost": {}}},
                "logging": {"hosts": {"localhost": {}}},
                "edge": {"hosts": {"canary-edge": {}}},
                "backup_hosts": {"hosts": {"canary-backup": {}}},
            },
            "hosts": {
                "localhost": dict(_LOCAL_HOST),
                "canary-edge": {
                    **_container_host(hosts_of["edge"]),
                    "opsdeck_manage_docker": True,
                    # the image's own engine (Debian's docker.io), no package source or Compose download
                    "docker_host_package_source": "distribution",
                    "docker_host_compose_source": "none",
                    "docker_host_apt_cache_valid_time": 315360000,
                    "docker_host_registry_logins": [
                        {
                            "registry": "127.0.0.1:5000",
                            "username": "canary",
                            "password": "{{ vault_registry_password }}",
                            "config_path": "/root/.docker/canary-config.json",
                        }
                    ],
                },
                "canary-backup": {**_container_host(hosts_of["backup"]), "monitoring_node_exporter_enabled": False},
            },
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    settings = {
        **SETTINGS,
        # the key's whole PEM text is the secret; the canary is the longest line of its body
        "edge_certificates": {
            EDGE_HOST: {"cert": cert, "key": key.replace(canaries["vault_edge_key"], "{{ vault_edge_key }}")}
        },
    }
    (group_vars / "zz_canary.yml").write_text(yaml.safe_dump(settings, sort_keys=False, width=200))

    password_file = work / "vault-password.txt"
    password_file.write_text(secrets.token_urlsafe(24) + "\n")
    password_file.chmod(0o600)
    vault = group_vars / "vault.yml"
    vault.write_text(yaml.safe_dump(canaries))
    subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(password_file), str(vault)],
        env=_env(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")
    return Site(inventory, password_file, canaries)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    return env


# ----- what to look for, and where ---------------------------------------------------------------


def _scan_artifacts(artifacts: Path, canaries: dict[str, str]) -> list[Leak]:
    wanted = needles(canaries)
    leaks = []
    for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
        rel = path.relative_to(artifacts.parent)
        text = path.read_text(errors="replace")
        if path.parent.name == "job_events" and path.suffix == ".json":
            event = json.loads(text)
            data = event.get("event_data", {})
            task = f"{data.get('task', '-')} [{data.get('task_path', '')}]"
            task += f" ({event.get('event')}, host {data.get('host', '-')})"
            # the event's own stdout and its result data, one line each, so the hit names its part
            for part, value in (("stdout", event.get("stdout", "")), ("event_data", json.dumps(data, sort_keys=True))):
                leaks += scan_text(value, f"{rel} {part}", wanted, lambda _n, t=task: t)
            continue
        if path.name in ("stdout", "stderr"):
            tasks = stdout_tasks(text)
            leaks += scan_text(text, str(rel), wanted, lambda n, t=tasks: t[n - 1] if n <= len(t) else "-")
            continue
        leaks += scan_text(text, str(rel), wanted, lambda _n: "-")
    return leaks


# ----- the run ----------------------------------------------------------------------------------


# The runs, in parallel: the whole site, and the edge phase alone (in the whole site, the failed
# registry login takes canary-edge out before the edge play, and the backup taken now, which
# finds no S3 server, ends the run there: any_errors_fatal).
RUNS = {"site": "", "edge": "--tags edge"}


def _run_all(site: Site, tmp_path: Path, images: dict[str, str]) -> dict[str, tuple[Path, object]]:
    """Run RUNS through ansible-runner; run name -> (its artifacts dir, the runner)."""
    import ansible_runner

    registry = next(iter(images.values())).split("/", 1)[0]
    envvars = {k: v for k, v in _env().items() if k.startswith("ANSIBLE_") or k == "PATH"}
    started = {}
    for name, args in RUNS.items():
        private = tmp_path / "runner" / name
        private.mkdir(parents=True)
        thread, runner = ansible_runner.run_async(
            private_data_dir=str(private),
            playbook=str(ROOT / "site.yml"),
            inventory=str(site.inventory),
            cmdline=f"--check -vvv --vault-password-file {site.vault_password_file} {args}".strip(),
            envvars=envvars,
            extravars={"opsdeck_rig_images": images, "opsdeck_rig_registry": registry},
            ident=name,
            quiet=True,
            timeout=400,
        )
        started[name] = (private / "artifacts", thread, runner)
    done = {}
    for name, (artifacts, thread, runner) in started.items():
        thread.join()
        done[name] = (artifacts, runner)
    return done


def _events(artifacts: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]


def _preflight_problems(events: list[dict], canaries: dict[str, str]) -> list[str]:
    """What says the run did not get through every preflight (messages masked)."""
    wanted = needles(canaries)
    problems = []
    files = {role: f"roles/{role}/tasks/preflight.yml" for role in ROLES}
    files["site"] = "playbooks/preflight.yml"
    for role, suffix in files.items():
        ran = [
            e
            for e in events
            if e.get("event") in ("runner_on_ok", "runner_on_skipped", "runner_on_failed")
            and suffix in e.get("event_data", {}).get("task_path", "")
        ]
        if not any(e["event"] == "runner_on_ok" for e in ran):
            problems.append(f"the run did not reach the preflight of {role} ({suffix}): no task of it ran")
        for e in ran:
            if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors"):
                data = e["event_data"]
                msg = json.dumps(data.get("res", {}).get("msg", ""))
                for name, needle in sorted(wanted.items(), key=lambda item: -len(item[1])):
                    msg = msg.replace(needle, f"***{name}***")
                problems.append(
                    f"the preflight of {role} failed on {data.get('host')} in {data.get('task')!r}: {msg[:600]}"
                )
    return problems


# The rig's host images with systemd as PID 1, run as molecule/site runs them (no --privileged).
_SYSTEMD_HOSTS = {
    "edge": (
        "dockerhost",
        {
            "cap_add": ["ALL"],
            "cap_drop": ["SYS_RESOURCE"],
            "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
            "device_cgroup_rules": ["a *:* rwm"],
        },
    ),
    "backup": ("dbhost", {"cap_add": ["SYS_ADMIN"]}),
}


@pytest.fixture
def systemd_hosts(images: dict[str, str], docker_client) -> Iterator[dict[str, str]]:
    """The edge host (dockerhost image) and the backup host (dbhost image) as containers; role -> name."""
    started = {}
    try:
        for role, (image, options) in _SYSTEMD_HOSTS.items():
            name = f"opsdeck-canary-{role}-{secrets.token_hex(4)}"
            started[role] = docker_client.containers.run(
                images[image],
                command="/lib/systemd/systemd",
                name=name,
                hostname=name,
                detach=True,
                cgroupns="host",
                volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
                tmpfs={"/run": "", "/run/lock": "", "/tmp": "exec"},
                labels={"opsdeck.test": "1"},
                **options,
            )
        for role, container in started.items():
            deadline, state = time.monotonic() + 90, ""
            while time.monotonic() < deadline:  # the bus is not there at once
                state = container.exec_run(["systemctl", "is-system-running", "--wait"])[1].decode(errors="replace")
                if state.strip() in ("running", "degraded"):
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"systemd did not boot in the {role} host {container.name}: {state.strip()}")
        yield {role: container.name for role, container in started.items()}
    finally:
        for container in started.values():
            container.remove(force=True, v=True)


@pytest.mark.slow
def test_no_secret_reaches_any_output_of_the_site_at_vvv(
    tmp_path: Path, images: dict[str, str], systemd_hosts: dict[str, str]
) -> None:
    site = _build_site(tmp_path, systemd_hosts)
    runs = _run_all(site, tmp_path, images)
    events, leaks, status = [], [], []
    for name, (artifacts, runner) in runs.items():
        status.append(f"{name}: {runner.status}, rc {runner.rc}")
        assert (artifacts / name / "job_events").is_dir(), (
            f"run {name}: ansible-runner left no job events ({runner.status})"
        )
        events += _events(artifacts / name)
        leaks += _scan_artifacts(artifacts, site.canaries)
    problems = _preflight_problems(events, site.canaries)
    report = []
    if leaks:
        names = sorted({leak.canary for leak in leaks})
        report.append(
            f"{len(leaks)} hit(s) of {len(names)} canar{'y' if len(names) == 1 else 'ies'}: {', '.join(names)}"
        )
        report += [f"  {leak}" for leak in leaks[:60]]
        if len(leaks) > 60:
            report.append(f"  ... and {len(leaks) - 60} more")
    report += problems
    assert not report, f"secret canary (site.yml --check -vvv; {'; '.join(status)}):\n" + "\n".join(report)
