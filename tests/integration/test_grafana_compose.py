# SPDX-License-Identifier: GPL-3.0-or-later
"""Grafana's files and compose service as the monitoring role writes them, checked for real.

Grafana itself is NOT run here: it is AGPL, and its image and source are refused on the machines
this collection is tested on. What is run: the role's own Grafana tasks (tasks/grafana.yml,
through ansible-playbook on localhost, into a temporary monitoring_root) and its compose
definition with Grafana on (vars/main.yml, the same `_monitoring_definition` the deploy step
hands to compose_project), which the real `docker compose config` (Compose v2) must accept.
Then, from outside: the image, user, capabilities, read-only root, tmpfs, limits, health check on
/api/health, the read-only mounts of the provisioning, dashboards, secrets and plugins, the data
directory; no password in the compose file, its `config` output or Ansible's output; the secret
files 0600 and Grafana's (472); a second run changes nothing; check mode changes nothing; an
empty password keeps the one on the host or makes a random one. prometheus.yml with Grafana on
has the `grafana` job, and the rig's promtool (Prometheus 3) accepts it.

What a running Grafana would tell and this cannot: that Grafana 12 starts with a read-only root
file system, reads the __FILE secrets, installs or loads the plugin, passes its health check.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..grafana_schema import DASHBOARD_PROVIDERS_SCHEMA, DASHBOARD_SCHEMA, DATASOURCES_SCHEMA, problems
from .test_monitoring_rules import promtool
from .test_site_inventories import playbook

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "grafana-test-Pa55word-x9"
REGISTRY = "127.0.0.1:5000"
ROLE_TEMPLATES = ROOT / "roles" / "monitoring" / "templates"

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The monitoring role's Grafana tasks
      ansible.builtin.include_role:
        name: opsdeck.platform.monitoring
        tasks_from: grafana.yml
        public: true
    - name: Write the compose definition the deploy step would deploy
      ansible.builtin.copy:
        content: "{{ _monitoring_definition | to_nice_yaml(indent=2, width=1000) }}"
        dest: "{{ out_dir }}/compose.yaml"
        mode: "0644"
    - name: Render prometheus.yml as the configure step would
      ansible.builtin.template:
        src: "{{ templates }}/prometheus.yml.j2"
        dest: "{{ out_dir }}/prometheus.yml"
        mode: "0644"
"""


def _plugin_dir(tmp_path: Path) -> Path:
    """A plugin directory as an air-gapped site unpacks it (plugin.json and a backend binary)."""
    plugin = tmp_path / "plugins-src" / "victoriametrics-logs-datasource"
    plugin.mkdir(parents=True)
    (plugin / "plugin.json").write_text(json.dumps({"id": "victoriametrics-logs-datasource", "type": "datasource"}))
    backend = plugin / "victoriametrics_logs_backend_plugin_linux_amd64"
    backend.write_text("#!/bin/sh\n")
    backend.chmod(0o755)
    return plugin.parent


class Site:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.root = tmp_path / "monitoring"
        self.out = tmp_path / "out"
        self.out.mkdir()
        (tmp_path / "play.yml").write_text(PLAY)
        (tmp_path / "hosts.yml").write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "children": {
                            "monitoring": {"hosts": {"localhost": {"ansible_python_interpreter": sys.executable}}}
                        }
                    }
                }
            )
        )
        self.vars: dict[str, Any] = {
            "out_dir": str(self.out),
            "templates": str(ROLE_TEMPLATES),
            "monitoring_root": str(self.root),
            "opsdeck_registry": REGISTRY,
            "opsdeck_environment": "local",
            "monitoring_grafana_service": True,
            "monitoring_grafana_admin_password": PASSWORD,
            "monitoring_grafana_root_url": "https://grafana.example.com/",
            "monitoring_grafana_secrets": {"GF_DATABASE_PASSWORD": "db-secret-Zq81"},
            "monitoring_grafana_plugins_dir": str(_plugin_dir(tmp_path)),
            "monitoring_scrape_logging": False,
        }

    def run(self, *args: str, **over: Any) -> subprocess.CompletedProcess[str]:
        extra = self.tmp / "vars.json"
        extra.write_text(json.dumps({**self.vars, **over}))
        return playbook(str(self.tmp / "play.yml"), self.tmp / "hosts.yml", "-e", f"@{extra}", *args)


def _recap_changed(result: subprocess.CompletedProcess[str]) -> int:
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("localhost") and "changed=" in ln)
    return int(line.split("changed=")[1].split()[0])


def _compose_config(path: Path) -> tuple[str, dict[str, Any]]:
    if not shutil.which("docker"):
        pytest.fail("docker CLI not found (Compose v2 is its plugin)")
    result = subprocess.run(
        ["docker", "compose", "--file", str(path), "--project-name", "grafana-test", "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads(result.stdout)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, subprocess.CompletedProcess[str]]:
    s = Site(tmp_path_factory.mktemp("grafana"))
    first = s.run()
    assert first.returncode == 0, first.stdout + first.stderr
    return s, first


def test_compose_config_accepts_the_grafana_service_and_it_is_hardened(site):
    s, _unused = site
    _text, config = _compose_config(s.out / "compose.yaml")
    svc = config["services"]["grafana"]
    assert svc["image"] == f"{REGISTRY}/grafana/grafana-oss:12.3.1"
    assert svc["user"] == "472:472"
    assert svc["read_only"] is True
    assert svc["cap_drop"] == ["ALL"] and not svc.get("cap_add")
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert svc["network_mode"] == "host"
    assert svc["tmpfs"] == ["/tmp"]
    assert int(svc["mem_limit"]) == 512 * 1024**2
    assert float(svc["cpus"]) == 1.0
    assert svc["pids_limit"] == 512
    assert svc["restart"] == "unless-stopped"
    health = svc["healthcheck"]
    assert health["test"][0] == "CMD" and health["test"][-1] == "http://127.0.0.1:3000/api/health"
    # the other services are still there and unchanged in kind
    assert {"prometheus", "alertmanager", "blackbox-exporter"} <= set(config["services"])
    assert not any("web.console" in arg for arg in config["services"]["prometheus"]["command"])


def test_mounts_provisioning_read_only_and_data_writable(site):
    s, _unused = site
    _text, config = _compose_config(s.out / "compose.yaml")
    mounts = {v["target"]: v for v in config["services"]["grafana"]["volumes"]}
    root = str(s.root)
    expected_ro = {
        "/etc/grafana/provisioning": f"{root}/grafana/provisioning",
        "/etc/grafana/dashboards": f"{root}/grafana/dashboards",
        "/run/secrets/grafana": f"{root}/grafana/secrets",
        "/var/lib/grafana-plugins": f"{root}/grafana/plugins",
    }
    for target, source in expected_ro.items():
        assert mounts[target]["type"] == "bind" and mounts[target]["source"] == source, target
        assert mounts[target].get("read_only") is True, target
    data = mounts["/var/lib/grafana"]
    assert data["source"] == f"{root}/data/grafana" and not data.get("read_only")
    assert set(mounts) == {*expected_ro, "/var/lib/grafana"}


def test_environment_has_the_settings_and_no_secret(site):
    s, first = site
    text, config = _compose_config(s.out / "compose.yaml")
    env = config["services"]["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana/GF_SECURITY_ADMIN_PASSWORD"
    assert env["GF_DATABASE_PASSWORD__FILE"] == "/run/secrets/grafana/GF_DATABASE_PASSWORD"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env and "GF_DATABASE_PASSWORD" not in env
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1" and env["GF_SERVER_HTTP_PORT"] == "3000"
    assert env["GF_SERVER_ROOT_URL"] == "https://grafana.example.com/"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false"
    assert env["GF_PATHS_PLUGINS"] == "/var/lib/grafana-plugins"
    assert env["GF_PLUGINS_PREINSTALL_DISABLED"] == "true"
    raw = (s.out / "compose.yaml").read_text()
    for secret in (PASSWORD, "db-secret-Zq81"):
        assert secret not in raw and secret not in text
        assert secret not in first.stdout + first.stderr  # no_log


def test_secret_files_are_0600_and_grafanas(site):
    s, _unused = site
    secrets = s.root / "grafana" / "secrets"
    st = secrets.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == 472
    for name, value in (("GF_SECURITY_ADMIN_PASSWORD", PASSWORD), ("GF_DATABASE_PASSWORD", "db-secret-Zq81")):
        st = (secrets / name).stat()
        assert stat.S_IMODE(st.st_mode) == 0o600, name
        assert (st.st_uid, st.st_gid) == (472, 472), name
        assert (secrets / name).read_text() == value  # no newline: the image's entrypoint reads it as is
    data = (s.root / "data" / "grafana").stat()
    assert data.st_uid == 472 and stat.S_IMODE(data.st_mode) == 0o750
    assert not (s.root / "grafana" / "admin.env").exists()


def test_provisioning_and_dashboards_follow_grafanas_format(site):
    s, _unused = site
    prov = s.root / "grafana" / "provisioning"
    datasources = yaml.safe_load((prov / "datasources" / "opsdeck.yml").read_text())
    providers = yaml.safe_load((prov / "dashboards" / "opsdeck.yml").read_text())
    assert problems(datasources, DATASOURCES_SCHEMA) == []
    assert problems(providers, DASHBOARD_PROVIDERS_SCHEMA) == []
    path = providers["providers"][0]["options"]["path"]
    _t, config = _compose_config(s.out / "compose.yaml")
    assert any(v["target"] == path for v in config["services"]["grafana"]["volumes"])
    uids = {d["uid"]: d["type"] for d in datasources["datasources"]}
    for board_file in sorted((s.root / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(board_file.read_text())
        assert problems(board, DASHBOARD_SCHEMA) == [], board_file.name
        for panel in board["panels"]:
            assert uids[panel["datasource"]["uid"]] == panel["datasource"]["type"]
    for sub in ("plugins", "alerting"):
        assert (prov / sub).is_dir()  # Grafana logs an error for a missing provisioning directory


def test_plugins_are_copied_with_their_modes(site):
    s, _unused = site
    copied = s.root / "grafana" / "plugins" / "victoriametrics-logs-datasource"
    assert json.loads((copied / "plugin.json").read_text())["id"] == "victoriametrics-logs-datasource"
    assert os.access(copied / "victoriametrics_logs_backend_plugin_linux_amd64", os.X_OK)


def test_prometheus_scrapes_grafana_and_promtool_accepts_the_file(site, images):
    s, _unused = site
    config = yaml.safe_load((s.out / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "grafana"]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:3000"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    result = promtool(images, s.out, "check", "config", "--syntax-only", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_second_run_changes_nothing(site):
    s, _unused = site
    again = s.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert _recap_changed(again) == 0, again.stdout


def test_check_mode_with_a_new_password_writes_nothing_and_shows_nothing(site):
    s, _unused = site
    before = (s.root / "grafana" / "secrets" / "GF_SECURITY_ADMIN_PASSWORD").read_text()
    checked = s.run("--check", "--diff", monitoring_grafana_admin_password="another-Pa55word-77")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _recap_changed(checked) >= 1  # the password file would change
    assert "another-Pa55word-77" not in checked.stdout + checked.stderr
    assert (s.root / "grafana" / "secrets" / "GF_SECURITY_ADMIN_PASSWORD").read_text() == before


def test_an_empty_password_keeps_the_one_on_the_host_or_makes_one(site, tmp_path):
    s, _unused = site
    kept = s.run(monitoring_grafana_admin_password="")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert (s.root / "grafana" / "secrets" / "GF_SECURITY_ADMIN_PASSWORD").read_text() == PASSWORD
    assert _recap_changed(kept) == 0
    fresh = Site(tmp_path)
    made = fresh.run(monitoring_grafana_admin_password="")
    assert made.returncode == 0, made.stdout + made.stderr
    password = (fresh.root / "grafana" / "secrets" / "GF_SECURITY_ADMIN_PASSWORD").read_text()
    assert len(password) == 32 and password.isalnum()
    assert password not in made.stdout + made.stderr
    assert _recap_changed(fresh.run(monitoring_grafana_admin_password="")) == 0


def test_grafana_off_has_no_service_and_no_scrape_job(tmp_path):
    s = Site(tmp_path)
    files_only = s.run(monitoring_grafana_service=False)
    assert files_only.returncode == 0, files_only.stdout + files_only.stderr
    _t, config = _compose_config(s.out / "compose.yaml")
    assert "grafana" not in config["services"]
    assert "grafana" not in [
        j["job_name"] for j in yaml.safe_load((s.out / "prometheus.yml").read_text())["scrape_configs"]
    ]
    assert (s.root / "grafana" / "provisioning" / "datasources" / "opsdeck.yml").is_file()  # the files are written
    assert not (s.root / "data" / "grafana").exists() and not (s.root / "grafana" / "plugins").exists()
