# SPDX-License-Identifier: GPL-3.0-or-later
"""The environments' inventories and the preflight every playbook starts with, run for real.

Each inventory parses (``ansible-inventory --list``); the preflight (playbooks/preflight.yml) passes
for every environment with the model its inventory describes (staging and prod with strong secrets
given as a vault would give them), and stops the run, naming what to fix, before any play reaches a
host: an unknown environment, a group a playbook needs and the inventory lacks, a missing vault
password, a prod or staging audit finding. dev and local only warn. No host is contacted: the
preflight runs on the controller and every refused run must end before the first remote play.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENVIRONMENTS = ("local", "dev", "staging", "prod")
SHIPPED_VAULT = {"local", "dev"}

# What a vault of staging or prod holds (docs/environments.md); strong throwaway values for the test.
STRONG_SECRETS = {
    "vault_shop_api_token": "tok-4f8e2a9c71b3d5e0",
    "vault_shopdb_password": "Zr8#qL2v!Wm5xK9p",
    "vault_s3_access_key": "AKIATESTTESTTEST",
    "vault_s3_secret_key": "s3-secret-7c1e9a3b5d8f2e4a",
    "vault_s3_pruner_key": "AKIATESTPRUNER00",
    "vault_s3_pruner_secret": "s3-pruner-2b6d0f4a8c1e3g5i",
    "vault_backup_recipients": ["age1pdzheu2kayaqnpv0y8l5jffw95dj0jyg6vkpu439zsypgqmptf5s05gqw6"],
    "vault_backup_age_identity": "AGE-SECRET-KEY-1KHRY55WEFHUTAPWD4H3NTN5KWY8WRYZXY6T59SGNFS487333V24S5HHCGZ",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
    return env


def _vault_args(environment: str) -> list[str]:
    if environment in SHIPPED_VAULT:
        return ["--vault-password-file", str(ROOT / "inventories" / environment / "vault-password.txt")]
    return []


def _secrets_file(tmp_path: Path, **changes: object) -> str:
    path = tmp_path / "vault.yml"
    path.write_text(yaml.safe_dump({**STRONG_SECRETS, **changes}))
    return f"@{path}"


def playbook(playbook: str, inventory: str | Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "ansible-playbook"), playbook, "-i", str(inventory), *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _out(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_inventory_parses_with_the_groups_of_the_site(environment: str) -> None:
    result = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", f"inventories/{environment}", "--list", *_vault_args(environment)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    inventory = json.loads(result.stdout)
    for group in ("docker_hosts", "monitoring", "logging", "backup_hosts"):
        assert group in inventory, f"{environment}: no group {group}"
    host = next(iter(inventory["docker_hosts"].get("hosts", [])), None) or "localhost"
    hostvars = inventory["_meta"]["hostvars"][host]
    assert hostvars["opsdeck_environment"] == environment
    # one model for all environments: every inventory reads the same file
    apps = ROOT / "inventories" / environment / "group_vars" / "all" / "apps.yml"
    assert apps.resolve() == (ROOT / "inventories" / "common" / "apps.yml").resolve()


def test_staging_and_prod_ship_no_vault() -> None:
    for environment in ("staging", "prod"):
        assert not list((ROOT / "inventories" / environment).rglob("vault*")), environment
    for environment in SHIPPED_VAULT:
        head = (ROOT / "inventories" / environment / "group_vars" / "all" / "vault.yml").read_text()
        assert head.startswith("$ANSIBLE_VAULT;1.1;AES256"), environment


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_preflight_passes_for_every_environment(environment: str, tmp_path: Path) -> None:
    extra = [] if environment in SHIPPED_VAULT else ["-e", _secrets_file(tmp_path)]
    result = playbook("playbooks/preflight.yml", f"inventories/{environment}", *_vault_args(environment), *extra)
    assert result.returncode == 0, _out(result)
    assert f"config audit of {environment}:" in _out(result)


def test_the_environments_differ_by_their_knobs(tmp_path: Path) -> None:
    values = {}
    for environment in ENVIRONMENTS:
        extra = [] if environment in SHIPPED_VAULT else ["-e", _secrets_file(tmp_path)]
        out = tmp_path / f"{environment}.json"
        result = subprocess.run(
            [
                str(BIN / "ansible"),
                "localhost",
                "-i",
                f"inventories/{environment}",
                *_vault_args(environment),
                *extra,
                "-m",
                "ansible.builtin.copy",
                "-a",
                "content={{ {'replicas': opsdeck_replicas, 'per_host': opsdeck_apps[0].replicas, "
                "'hosts': groups.docker_hosts | length, 'debug': opsdeck_debug, "
                "'autoscaling': opsdeck_autoscaling, 'retention': monitoring_prometheus_retention_time, "
                "'target_down_for': monitoring_alert_for.TargetDown | default('2m')} | to_json }} "
                f"dest={out}",
            ],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, _out(result)
        values[environment] = json.loads(out.read_text())
    for environment, v in values.items():  # the replicas spread over the docker hosts, one per host here
        assert v["per_host"] * v["hosts"] >= v["replicas"] and v["per_host"] == 1, environment
    assert values["dev"]["replicas"] == 1 and values["dev"]["debug"] is True
    assert values["staging"]["replicas"] == 2 and values["staging"]["debug"] is False
    assert values["prod"]["replicas"] >= 3 and values["prod"]["debug"] is False
    assert values["prod"]["autoscaling"]["enabled"] is True
    assert values["prod"]["autoscaling"]["min_replicas"] >= 3
    days = {e: int(v["retention"].rstrip("d")) for e, v in values.items()}
    assert days["prod"] > days["staging"] > days["dev"]
    assert values["prod"]["target_down_for"] == "1m"  # stricter than staging's 5m and dev's 10m


@pytest.mark.parametrize("environment", ["prod", "staging"])
def test_an_audit_finding_stops_prod_and_staging_before_any_host(environment: str, tmp_path: Path) -> None:
    secrets = _secrets_file(tmp_path, vault_shopdb_password="postgres")
    result = playbook("site.yml", f"inventories/{environment}", "-e", secrets)
    out = _out(result)
    assert result.returncode != 0
    assert f"the configuration audit of {environment} found" in out
    assert "app 'shop': field 'databases[0].password': the password is a well-known default password" in out
    assert "app 'shop': field 'secrets.DATABASE_URL'" in out
    assert "postgres://shop:postgres" not in out  # the value is never shown
    assert "PLAY [Install and configure Docker Engine" not in out


def test_dev_only_warns(tmp_path: Path) -> None:
    result = playbook(
        "playbooks/preflight.yml", "inventories/dev", *_vault_args("dev"), "-e", "vault_shopdb_password=postgres"
    )
    out = _out(result)
    assert result.returncode == 0, out
    assert "[WARNING]: config audit (dev): app 'shop': field 'databases[0].password'" in out


def test_debug_in_prod_is_refused(tmp_path: Path) -> None:
    result = playbook(
        "playbooks/preflight.yml", "inventories/prod", "-e", _secrets_file(tmp_path), "-e", "opsdeck_debug=true"
    )
    out = _out(result)
    assert result.returncode != 0
    assert "app 'shop': field 'env.DEBUG': DEBUG=true in prod: switch debug off [debug]" in out
    assert "opsdeck_debug: is true in prod" in out


def test_an_unknown_environment_is_refused(tmp_path: Path) -> None:
    result = playbook(
        "site.yml", "inventories/prod", "-e", _secrets_file(tmp_path), "-e", "opsdeck_environment=production"
    )
    out = _out(result)
    assert result.returncode != 0
    assert 'opsdeck_environment is "production"; it must be one of local, dev, staging, prod' in out
    assert "PLAY [Install and configure Docker Engine" not in out


def test_an_inventory_without_the_groups_a_playbook_needs(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump({"opsdeck_environment": "dev", "opsdeck_apps": []})
    )
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {"docker_hosts": {"hosts": {"app-1.invalid": {}}}}}})
    )
    result = playbook("playbooks/monitoring.yml", inventory)
    out = _out(result)
    assert result.returncode != 0
    assert "the inventory has no host in the group monitoring, which monitoring runs on" in out
    assert "PLAY [Deploy the node exporter" not in out


def test_a_missing_vault_password_stops_the_run() -> None:
    result = playbook("site.yml", "inventories/local")
    out = _out(result)
    assert result.returncode != 0
    assert "Attempting to decrypt but no vault secrets found" in out
    assert "PLAY [Install and configure Docker Engine" not in out


def test_restore_and_dr_run_only_when_asked() -> None:
    def plays(*args: str) -> str:
        result = playbook("site.yml", "inventories/local", *_vault_args("local"), "--list-tasks", *args)
        assert result.returncode == 0, _out(result)
        return result.stdout

    default = plays()
    for phase in ("restore", "dr_failover", "dr_drill"):
        assert f"Only when asked (its tag or opsdeck_site_run), so not run: phase {phase}" in default
    assert "Drill the DR failover into scratch targets" not in default
    assert "Drill the DR failover into scratch targets" in plays("--tags", "dr_drill")
    assert "Restore a database of the application model" in plays("-e", '{"opsdeck_site_run": ["restore"]}')


# ----- the database hosts' node exporter (backup metrics), as the inventories give it ----------

_EXPORTER_VARS = (
    "backup_metrics_dir",
    "monitoring_node_exporter_textfile_dir",
    "monitoring_node_exporter_listen_address",
    "monitoring_node_exporter_port",
    "monitoring_node_exporter_enabled",
)


def _rendered(environment: str, host: str) -> dict[str, object]:
    """The exporter variables of ``host`` as Ansible renders them (the debug module, on the controller)."""
    msg = "{" + ", ".join(f"'{v}': {v} | default(none)" for v in _EXPORTER_VARS) + "}"
    result = subprocess.run(
        [
            str(BIN / "ansible"),
            host,
            "-i",
            f"inventories/{environment}",
            *_vault_args(environment),
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={{{{ {msg} }}}}",
            "-c",
            "local",
        ],
        cwd=ROOT,
        env={**_env(), "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, _out(result)
    return json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"][host]["msg"]


@pytest.mark.parametrize(("environment", "host"), [("staging", "stg-db-1.internal"), ("prod", "prod-db-1.internal")])
def test_database_hosts_get_the_exporter_settings_from_the_inventory(environment: str, host: str) -> None:
    got = _rendered(environment, host)
    assert got["backup_metrics_dir"] == "/var/lib/opsdeck/textfile"
    assert got["monitoring_node_exporter_textfile_dir"] == got["backup_metrics_dir"]
    assert got["monitoring_node_exporter_listen_address"] == "auto"
    assert int(str(got["monitoring_node_exporter_port"])) == 9100
    assert got["monitoring_node_exporter_enabled"] is None  # the role's default: on


@pytest.mark.parametrize(("environment", "host"), [("staging", "stg-db-1.internal"), ("prod", "prod-db-1.internal")])
def test_the_monitoring_playbook_deploys_an_exporter_on_the_database_hosts(environment: str, host: str) -> None:
    result = playbook("playbooks/monitoring.yml", f"inventories/{environment}", "--list-hosts")
    assert result.returncode == 0, _out(result)
    play = result.stdout.split("Deploy the node exporter on the docker hosts and the backup hosts", 1)[1]
    play = play.split("play #", 1)[0]
    assert host in play and "-app-1.internal" in play


def test_the_demo_backup_host_runs_no_exporter_of_its_own() -> None:
    got = _rendered("local", "opsdeck-demo-backup")
    assert got["monitoring_node_exporter_enabled"] is False
    assert got["backup_metrics_dir"] == "/var/lib/opsdeck-demo/textfile"
