# SPDX-License-Identifier: GPL-3.0-or-later
"""Dump each managed database of the model with the backup engine, as the backup role would.

The connection comes from the normalized model alone (its derived ``container``): no more
configuration. Prints one line per database: ``<name> <rc> <first bytes of the dump>``.
Usage: backup_dump.py MODEL_JSON (the scenario's opsdeck_apps).
"""

from __future__ import annotations

import json
import subprocess
import sys

from ansible_collections.opsdeck.platform.plugins.module_utils.backup import sources
from ansible_collections.opsdeck.platform.plugins.module_utils.model import normalize_apps

for app in normalize_apps(json.loads(sys.argv[1])):
    for db in app["databases"]:
        keys = ("host", "port", "user", "password", "container")
        conn = sources.connection_from({"engine": db["engine"], "database": db["name"], **{k: db[k] for k in keys}})
        engine = sources.engine_for(db["engine"])
        with sources._client(engine, conn) as client:  # the engine's own login handling (files 0600, env)
            argv = client.argv(engine.dump_argv(client))
            done = subprocess.run(argv, capture_output=True, env=client.env, timeout=120, check=False)
            print(db["name"], done.returncode, done.stdout[:5].decode(errors="replace"))
