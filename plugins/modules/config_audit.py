#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_audit
short_description: Audit the application model and its environment before anything is deployed
version_added: 0.3.0
description:
  - Validates O(apps) as the application model (the schema of C(opsdeck.platform.app_model)), then audits it for
    O(environment) - default, empty or short passwords (the apps' secrets, database passwords, O(secrets)),
    public endpoints over plain HTTP, apps without a CPU or memory limit, images on V(:latest) or with no tag,
    databases without backups, backups that cannot be encrypted (no age recipient, a plain-HTTP store endpoint,
    certificate checks off, a weak pgBackRest passphrase) and, in V(prod), debug switched on.
  - In V(prod) and V(staging) any finding fails the task; in V(dev) and V(local) each is a warning.
  - Each finding names the app and the field (or the variable); secret values are never shown.
  - Reads only. Run it on the controller, with C(delegate_to=localhost) and C(run_once=true).
author:
  - opsdeck platform team (@opsdeck)
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: N/A
  idempotent:
    support: full
options:
  apps:
    description: The application model, C(opsdeck_apps) as written in inventory (secrets included, to audit them).
    type: list
    elements: raw
    default: []
  environment:
    description: The environment the model is for (C(opsdeck_environment)); decides whether findings fail.
    type: str
    required: true
    choices: [local, dev, staging, prod]
  backup_store:
    description: C(opsdeck_backup_store).
    type: dict
  backup_prune_store:
    description: C(opsdeck_backup_prune_store).
    type: dict
  backup_recipients:
    description: C(opsdeck_backup_recipients), the age public keys backups are encrypted to.
    type: list
    elements: str
  backup_pitr_cipher_pass:
    description: C(opsdeck_backup_pitr_cipher_pass), checked when a database has point-in-time recovery.
    type: str
  debug:
    description: The environment's debug switch (C(opsdeck_debug)); a finding in V(prod).
    type: bool
    default: false
  secrets:
    description: More named secrets of the site to check (variable name to value), for example Grafana's admin password.
    type: dict
    default: {}
  strict:
    description:
      - Whether findings fail the task; unset, they fail in V(prod) and V(staging), warn in V(dev) and V(local).
      - V(false) suits a DR failover - an audit finding must not hold up a recovery; it is still reported.
    type: bool
  waivers:
    description:
      - Findings accepted on purpose, as V(<app>:<rule>) or V(<app>:<rule>:<field>); V(*) for any app, V(-) for a
        finding about a variable. Waived findings are returned in RV(waived).
      - Rules are V(weak_password), V(plain_http), V(resource_limits), V(unpinned_image), V(database_backup),
        V(backup_encryption), V(debug).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Audit the model of this environment
  opsdeck.platform.config_audit:
    apps: "{{ opsdeck_apps }}"
    environment: "{{ opsdeck_environment }}"
    backup_store: "{{ opsdeck_backup_store | default(omit) }}"
    backup_recipients: "{{ opsdeck_backup_recipients | default(omit) }}"
    debug: "{{ opsdeck_debug | default(false) }}"
    waivers: ["legacy-report:resource_limits"]
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
findings:
  description: What is wrong, not waived. C(app) is null for a finding about a variable.
  returned: always
  type: list
  elements: dict
  sample: [{app: shop, field: image, rule: unpinned_image, message: "'shop:latest' is not pinned (:latest) ..."}]
waived:
  description: Findings matched by O(waivers).
  returned: always
  type: list
  elements: dict
  sample: []
strict:
  description: Whether findings fail the task (V(prod), V(staging)).
  returned: always
  type: bool
  sample: true
errors:
  description: The findings as lines, when O(environment) is strict.
  returned: always
  type: list
  elements: str
  sample: ["app 'shop': field 'resources.memory': no memory limit ... [resource_limits]"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.opsdeck.platform.plugins.module_utils.config_audit import AuditError, audit, secret_values
from ansible_collections.opsdeck.platform.plugins.module_utils.model import ModelError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            # Not no_log: that would mask every string of the model (app names, "prod", "postgres") in the
            # findings. The secret values in it are masked one by one below instead.
            "apps": {"type": "list", "elements": "raw", "default": [], "no_log": False},
            "environment": {"type": "str", "required": True, "choices": ["local", "dev", "staging", "prod"]},
            "backup_store": {"type": "dict", "no_log": False},  # its credentials are masked below
            "backup_prune_store": {"type": "dict", "no_log": False},
            "backup_recipients": {"type": "list", "elements": "str", "no_log": False},
            "backup_pitr_cipher_pass": {"type": "str", "no_log": True},
            "debug": {"type": "bool", "default": False},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
            "waivers": {"type": "list", "elements": "str", "default": []},
            "strict": {"type": "bool"},
        },
        supports_check_mode=True,
    )
    p = module.params
    module.no_log_values.update(secret_values(p["apps"], p["backup_store"], p["backup_prune_store"]))
    try:
        result = audit(
            p["apps"],
            environment=p["environment"],
            backup={
                "store": p["backup_store"],
                "prune_store": p["backup_prune_store"],
                "recipients": p["backup_recipients"],
                "pitr_cipher_pass": p["backup_pitr_cipher_pass"],
            },
            debug=p["debug"],
            secrets=p["secrets"],
            waivers=p["waivers"],
            strict=p["strict"],
        )
    except ModelError as exc:
        module.fail_json(msg=f"opsdeck_apps is not a valid application model ({len(exc.errors)} findings):\n{exc}")
    except AuditError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:
        module.fail_json(msg=f"config audit failed: {exc}", exception=traceback.format_exc())
    out = {k: result[k] for k in ("findings", "waived", "strict", "errors")}
    if result["errors"]:
        count = len(result["errors"])
        module.fail_json(
            msg=f"the configuration audit of {p['environment']} found {count} problem{'s' if count != 1 else ''} "
            f"(fix them, or waive one on purpose with opsdeck_audit_waivers):\n" + "\n".join(result["errors"]),
            changed=False,
            **out,
        )
    for line in result["warnings"]:
        module.warn(f"config audit ({p['environment']}): {line}")
    module.exit_json(changed=False, **out)


if __name__ == "__main__":
    main()
