# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup modules through ansible-playbook, against a real PostgreSQL and the rig's S3 server:
backup (and fresh_within), backup_info, backup_verify, backup_prune (check and diff mode, then
for real), backup_restore (check mode, then for real, then refused on a non-empty target)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from .test_backup_engine import new_pg_db, pg_fingerprint

ROOT = Path(__file__).resolve().parents[2]


def run_play(tmp_path: Path, tasks: list[dict], extra: dict) -> dict:
    """Run tasks on localhost; return {task name: result} from the json callback."""
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": sys.executable},
            "tasks": tasks,
        }
    ]
    book = tmp_path / f"play-{secrets.token_hex(3)}.yml"
    book.write_text(yaml.safe_dump(play, sort_keys=False))
    varsfile = tmp_path / f"vars-{secrets.token_hex(3)}.json"
    varsfile.write_text(json.dumps(extra))
    varsfile.chmod(0o600)
    env = {**os.environ, "ANSIBLE_STDOUT_CALLBACK": "json", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(book),
            "-e",
            f"@{varsfile}",
            "--diff",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    doc = json.loads(proc.stdout[proc.stdout.index("{") :])
    results = {}
    for play_doc in doc["plays"]:
        for task in play_doc["tasks"]:
            results[task["task"]["name"]] = task["hosts"]["localhost"]
    return {"results": results, "stdout": proc.stdout, "rc": proc.returncode}


def test_modules_backup_info_verify_prune_restore(postgres_server, s3_server, s3_bucket, tmp_path):
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    identity = key.read_text()
    public = next(line.split(": ")[1] for line in identity.splitlines() if line.startswith("# public key: "))
    db = new_pg_db(postgres_server, rows=500)
    extra = {
        "store": {
            "bucket": s3_bucket,
            "prefix": "modules",
            "endpoint_url": s3_server.endpoint_url,
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
            "part_size_mb": 5,
        },
        "source": {
            "engine": "postgres",
            "host": postgres_server.host,
            "user": "postgres",
            "password": postgres_server.password,
        },
        "target": {
            "engine": "postgres",
            "host": postgres_server.host,
            "user": "postgres",
            "password": postgres_server.password,
            "dbname": f"{db}_restored",
        },
        "recipient": public,
        "identity": identity,
        "db": db,
    }
    common = {"app": "shop", "database": "{{ db }}", "store": "{{ store }}"}
    tasks = [
        {
            "name": "backup (check mode)",
            "opsdeck.platform.backup": {**common, "source": "{{ source }}", "recipients": ["{{ recipient }}"]},
            "check_mode": True,
            "register": "r",
        },
        {
            "name": "backup",
            "opsdeck.platform.backup": {**common, "source": "{{ source }}", "recipients": ["{{ recipient }}"]},
        },
        {
            "name": "backup again, fresh",
            "opsdeck.platform.backup": {
                **common,
                "source": "{{ source }}",
                "recipients": ["{{ recipient }}"],
                "fresh_within": 3600,
            },
        },
        {
            "name": "second backup",
            "opsdeck.platform.backup": {**common, "source": "{{ source }}", "recipients": ["{{ recipient }}"]},
        },
        {"name": "info", "opsdeck.platform.backup_info": common},
        {
            "name": "verify",
            "opsdeck.platform.backup_verify": {
                **common,
                "identity": "{{ identity }}",
                "server": "{{ source }}",
                "query": "SELECT count(*) = 500 FROM items",
            },
        },
        {"name": "info verified", "opsdeck.platform.backup_info": {**common, "verified": True, "latest": True}},
        {
            "name": "prune (check mode)",
            "opsdeck.platform.backup_prune": {**common, "keep": {"last": 1}},
            "check_mode": True,
        },
        {"name": "prune", "opsdeck.platform.backup_prune": {**common, "keep": {"last": 1}}},
        {"name": "prune again", "opsdeck.platform.backup_prune": {**common, "keep": {"last": 1}}},
        {
            "name": "restore (check mode)",
            "opsdeck.platform.backup_restore": {**common, "identity": "{{ identity }}", "target": "{{ target }}"},
            "check_mode": True,
        },
        {
            "name": "restore",
            "opsdeck.platform.backup_restore": {**common, "identity": "{{ identity }}", "target": "{{ target }}"},
        },
        {
            "name": "restore again",
            "opsdeck.platform.backup_restore": {**common, "identity": "{{ identity }}", "target": "{{ target }}"},
            "ignore_errors": True,
        },
    ]
    out = run_play(tmp_path, tasks, extra)
    r = out["results"]
    assert r["backup (check mode)"]["changed"] is True and "backup" not in r["backup (check mode)"]
    first = r["backup"]["backup"]["id"]
    assert r["backup again, fresh"]["changed"] is False and r["backup again, fresh"]["backup"]["id"] == first
    second = r["second backup"]["backup"]["id"]
    assert [b["id"] for b in r["info"]["backups"]] == [second, first]
    assert r["verify"]["verification"]["id"] == second and r["verify"]["verification"]["answer"] == "t"
    assert r["info verified"]["latest"]["id"] == second
    # check mode shows exactly what would go, and the diff says it; nothing went
    assert r["prune (check mode)"]["changed"] is True
    assert r["prune (check mode)"]["would_delete"] == [first] and r["prune (check mode)"]["deleted"] == []
    assert first in r["prune (check mode)"]["diff"]["before"] and first not in r["prune (check mode)"]["diff"]["after"]
    assert r["prune"]["deleted"] == [first] and r["prune"]["changed"] is True
    assert r["prune again"]["changed"] is False
    assert r["restore (check mode)"]["changed"] is True
    assert r["restore (check mode)"]["restored"]["would_create"] is True  # the target did not exist yet
    assert r["restore"]["restored"]["id"] == second
    assert pg_fingerprint(postgres_server, f"{db}_restored") == pg_fingerprint(postgres_server, db)
    assert r["restore again"]["failed"] is True and "is not empty" in r["restore again"]["msg"]
    # secrets given to the modules never show in their output
    for secret in (postgres_server.password, s3_server.secret_key, identity.splitlines()[-1]):
        assert secret not in out["stdout"]


def test_module_errors_name_the_app_and_database(s3_server, s3_bucket, tmp_path):
    extra = {
        "store": {
            "bucket": s3_bucket,
            "endpoint_url": s3_server.endpoint_url,
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
        }
    }
    tasks = [
        {
            "name": "bad recipient",
            "ignore_errors": True,
            "opsdeck.platform.backup": {
                "app": "shop",
                "database": "orders",
                "store": "{{ store }}",
                "source": {"engine": "postgres"},
                "recipients": ["not-a-key"],
            },
        },
        {
            "name": "nothing to restore",
            "ignore_errors": True,
            "opsdeck.platform.backup_restore": {
                "app": "shop",
                "database": "orders",
                "store": "{{ store }}",
                "identity": "AGE-SECRET-KEY-1XXXX",
                "target": {"engine": "postgres"},
            },
        },
        {
            "name": "keep nothing",
            "ignore_errors": True,
            "opsdeck.platform.backup_prune": {"app": "shop", "database": "orders", "store": "{{ store }}", "keep": {}},
        },
    ]
    r = run_play(tmp_path, tasks, extra)["results"]
    assert r["bad recipient"]["msg"] == "shop/orders: recipients: 'not-a-key' is not an age X25519 public key (age1...)"
    assert r["nothing to restore"]["msg"] == "shop/orders: no complete backup"
    assert r["keep nothing"]["msg"].startswith("shop/orders: prune of shop/orders: keep:")


def test_a_backup_by_the_module_is_recorded_in_the_metrics_like_a_scheduled_one(
    postgres_server, s3_server, s3_bucket, tmp_path
):
    """metrics_dir: success and failure land in the job's textfile metrics (the alerts' input);
    a directory that does not exist records nothing and says so."""
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    public = next(line.split(": ")[1] for line in key.read_text().splitlines() if line.startswith("# public key: "))
    db = new_pg_db(postgres_server, rows=50)
    textfile, state = tmp_path / "textfile", tmp_path / "state"
    textfile.mkdir()
    extra = {
        "store": {
            "bucket": s3_bucket,
            "prefix": "recorded",
            "endpoint_url": s3_server.endpoint_url,
            "access_key": s3_server.access_key,
            "secret_key": s3_server.secret_key,
        },
        "source": {
            "engine": "postgres",
            "host": postgres_server.host,
            "user": "postgres",
            "password": postgres_server.password,
        },
        "bad_source": {
            "engine": "postgres",
            "host": postgres_server.host,
            "user": "postgres",
            "password": "wrong-password",
            "dbname": "nonexistent",
        },
        "recipient": public,
        "db": db,
        "textfile": str(textfile),
        "state": str(state),
        "missing": str(tmp_path / "no-such-dir"),
    }
    common = {
        "app": "shop",
        "database": "{{ db }}",
        "store": "{{ store }}",
        "recipients": ["{{ recipient }}"],
        "state_dir": "{{ state }}",
    }
    tasks = [
        {
            "name": "backup",
            "opsdeck.platform.backup": {**common, "source": "{{ source }}", "metrics_dir": "{{ textfile }}"},
        },
        {
            "name": "failing backup",
            "ignore_errors": True,
            "opsdeck.platform.backup": {**common, "source": "{{ bad_source }}", "metrics_dir": "{{ textfile }}"},
        },
        {
            "name": "no metrics dir",
            "opsdeck.platform.backup": {**common, "source": "{{ source }}", "metrics_dir": "{{ missing }}"},
        },
    ]
    out = run_play(tmp_path, tasks, extra)
    r = out["results"]
    assert r["backup"]["changed"] is True
    assert r["failing backup"]["failed"] is True
    assert r["no metrics dir"]["changed"] is True
    assert any("does not exist" in w for w in r["no metrics dir"].get("warnings", [])), r["no metrics dir"]
    prom = (textfile / f"opsdeck_backup_shop_{db}.prom").read_text()
    labels = f'{{app="shop",database="{db}",engine="postgres"}}'
    values = {line.split("{")[0]: float(line.rsplit(" ", 1)[1]) for line in prom.splitlines() if labels in line}
    assert values["opsdeck_backup_last_size_bytes"] == r["backup"]["backup"]["objects"]["data"]["size"]
    assert values["opsdeck_backup_failures_total"] == 1
    assert (
        values["opsdeck_backup_last_failure_timestamp_seconds"]
        >= values["opsdeck_backup_last_success_timestamp_seconds"]
    )
    # the third run (no such metrics dir) recorded nothing: the success is still the first one's
    assert len(list(textfile.iterdir())) == 1
    assert "wrong-password" not in out["stdout"]
