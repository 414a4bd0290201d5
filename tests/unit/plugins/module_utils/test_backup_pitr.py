# SPDX-License-Identifier: GPL-3.0-or-later
"""The point-in-time recovery metrics (backup/pitr.py) and the pitr-metrics command.

pgBackRest and psql are replaced by a runner that answers with their real output formats
(``pgbackrest --output=json info`` as pgBackRest 2.x prints it, psql -A -t rows); the molecule
``backup`` scenario runs the same code against a real pgBackRest and PostgreSQL.
"""

from __future__ import annotations

import json
import stat

import pytest

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import cli, pitr
from ansible_collections.opsdeck.platform.plugins.module_utils.backup.errors import BackupError
from ansible_collections.opsdeck.platform.plugins.module_utils.systemd_calendar import quote_word

INFO = [
    {
        "name": "shop-shopdb",
        "status": {"code": 0, "message": "ok"},
        "cipher": "aes-256-cbc",
        "backup": [
            {"type": "full", "label": "20261201-010000F", "timestamp": {"start": 1764550800, "stop": 1764550860}},
            {
                "type": "diff",
                "label": "20261201-010000F_20261202-010000D",
                "timestamp": {"start": 1764637200, "stop": 1764637230},
            },
            {"type": "full", "label": "20261203-010000F", "timestamp": {"start": 1764723600, "stop": 1764723700}},
        ],
        "archive": [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000009"}],
    },
    {"name": "other", "status": {"code": 2, "message": "no valid backups"}, "backup": []},
]


def runner_for(info, archiver="1764723800.5|1764723900|42|3\n", fail=()):
    calls = []

    def run(argv):
        calls.append(list(argv))
        if argv[0].endswith("pgbackrest"):
            if "pgbackrest" in fail:
                raise BackupError("pgbackrest exited 82: unable to read repository")
            return json.dumps(info)
        if "psql" in fail:
            raise BackupError("psql exited 2: could not connect")
        return archiver

    run.calls = calls
    return run


def test_parse_info_takes_the_newest_backup_of_each_type_and_the_status():
    got = pitr.parse_info(json.dumps(INFO), "shop-shopdb")
    assert got == {"status_code": 0, "backups": 3, "newest": {"full": 1764723700.0, "diff": 1764637230.0}}
    assert pitr.parse_info(json.dumps(INFO), "other") == {"status_code": 2, "backups": 0, "newest": {}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        (json.dumps(INFO), "stanza 'missing' is not in the answer"),
        ("{}", "not in the answer"),
    ],
)
def test_parse_info_refuses_what_it_cannot_read(text, message):
    with pytest.raises(BackupError, match=message):
        pitr.parse_info(text, "missing" if text.startswith("[") else "shop-shopdb")


def test_parse_archiver_reads_empty_times_as_missing():
    assert pitr.parse_archiver("||0|0\n") == {
        "last_archived": None,
        "last_failed": None,
        "archived": 0.0,
        "failed": 0.0,
    }
    with pytest.raises(BackupError, match="unexpected answer"):
        pitr.parse_archiver("1|2\n")


def test_metrics_render_every_number_with_the_stanza_labels(tmp_path):
    m = pitr.PitrMetrics(str(tmp_path / "state"), str(tmp_path / "tf"), "shop", "shopdb", "shop-shopdb")
    run = runner_for(INFO)
    m.read(pgbackrest="/usr/bin/pgbackrest", port=5433, runner=run, now=1764724000)
    text = m.render()
    labels = 'app="shop",database="shopdb",stanza="shop-shopdb"'
    assert f'opsdeck_pitr_last_backup_timestamp_seconds{{{labels},type="full"}} 1764723700' in text
    assert f'opsdeck_pitr_last_backup_timestamp_seconds{{{labels},type="diff"}} 1764637230' in text
    assert 'type="incr"' not in text
    assert f"opsdeck_pitr_repo_status_code{{{labels}}} 0" in text
    assert f"opsdeck_pitr_backups{{{labels}}} 3" in text
    assert f"opsdeck_pitr_wal_last_archived_timestamp_seconds{{{labels}}} 1764723800.5" in text
    assert f"opsdeck_pitr_wal_failed_total{{{labels}}} 3" in text
    assert f"opsdeck_pitr_metrics_timestamp_seconds{{{labels}}} 1764724000" in text
    assert "# TYPE opsdeck_pitr_wal_archived_total counter" in text
    # the stanza and the port reach the tools as arguments; no credential is involved
    assert run.calls[0] == ["/usr/bin/pgbackrest", "--stanza=shop-shopdb", "--output=json", "info"]
    assert run.calls[1][:7] == ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"]
    assert "5433" in run.calls[1]


def test_a_read_that_fails_is_left_out_and_reported_not_guessed(tmp_path):
    m = pitr.PitrMetrics(str(tmp_path / "state"), str(tmp_path / "tf"), "shop", "shopdb", "shop-shopdb")
    m.read(pgbackrest="pgbackrest", port=5432, runner=runner_for(INFO, fail=("pgbackrest",)), now=10)
    text = m.render()
    assert "repo_status_code" not in text and "last_backup_timestamp" not in text
    assert "wal_archived_total" in text
    assert m.errors == ["pgbackrest exited 82: unable to read repository"]


def test_runs_are_counted_across_invocations_and_files_are_private(tmp_path):
    state, tf = str(tmp_path / "state"), str(tmp_path / "tf")
    m = pitr.PitrMetrics(state, tf, "shop", "shopdb", "shop-shopdb").load()
    m.record_run("full", False, 100)
    m.read(pgbackrest="pgbackrest", port=5432, runner=runner_for(INFO), now=101)
    m.save()
    m = pitr.PitrMetrics(state, tf, "shop", "shopdb", "shop-shopdb").load()
    m.record_run("full", True, 200)
    m.record_run("diff", False, 300)
    m.save()
    text = (tmp_path / "tf" / "opsdeck_pitr_shop_shopdb.prom").read_text()
    labels = 'app="shop",database="shopdb",stanza="shop-shopdb"'
    assert f'opsdeck_pitr_run_failures_total{{{labels},type="full"}} 1' in text
    assert f'opsdeck_pitr_last_run_success_timestamp_seconds{{{labels},type="full"}} 200' in text
    assert f'opsdeck_pitr_run_failures_total{{{labels},type="diff"}} 1' in text
    assert stat.S_IMODE((tmp_path / "state" / "pitr_shop-shopdb.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tf" / "opsdeck_pitr_shop_shopdb.prom").stat().st_mode) == 0o644
    with pytest.raises(BackupError, match="backup type must be one of"):
        m.record_run("metrics", True, 1)


def test_pitr_metrics_command_needs_no_config_and_records_the_unit_result(tmp_path, monkeypatch, capsys):
    run = runner_for(INFO, fail=("psql",))
    monkeypatch.setattr(pitr, "run_as_postgres", run)
    argv = [
        "--config", str(tmp_path / "does-not-exist.json"),
        "pitr-metrics", "shop/shopdb", "--stanza=shop-shopdb", "--port=5432",
        f"--metrics-dir={tmp_path / 'tf'}", f"--state-dir={tmp_path / 'state'}",
        "--run-type=diff", "--run-result=exit-code",
    ]  # fmt: skip
    assert cli.main(argv) == 1  # psql failed: the command says so, the rest is written
    out = json.loads(capsys.readouterr().out)
    assert out["errors"] == ["psql exited 2: could not connect"]
    text = (tmp_path / "tf" / "opsdeck_pitr_shop_shopdb.prom").read_text()
    assert 'type="diff"} 1' in text and "repo_status_code" in text
    assert cli.main([*argv[:3], "nojob", *argv[4:]]) == 1


@pytest.mark.parametrize(
    ("value", "word"),
    [
        ("shop/orders", '"shop/orders"'),
        ("shop/100% db", '"shop/100%% db"'),
        ("a$HOME/${X}", '"a$$HOME/$${X}"'),
        ('q"uo\\te', '"q\\"uo\\\\te"'),
    ],
)
def test_quote_word_keeps_systemd_from_expanding_or_splitting(value, word):
    assert quote_word(value) == word
