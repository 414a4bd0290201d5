#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_project
short_description: Deploy a Docker Compose project with a health gate and automatic rollback
version_added: 0.1.0
description:
  - Writes a Compose project (compose file, secrets as 0600 files) into O(project_dir), brings it up, and waits
    until every container of every expected service is running, healthy by its Docker health check, and answers
    the given HTTP health checks; then runs post-deploy smoke checks.
  - When the gate, a pre-deploy hook or an image pull fails, restores the last healthy revision (kept under
    C(revisions/) with images pinned by digest), brings it up again, and fails with a message that names the
    service and its last health-check output.
  - Built for what M(community.docker.docker_compose_v2) lacks, namely rollback, revisions, a health gate that needs no
    tool inside the image (HTTP checks are probed from the host), diff of the compose file, and secrets kept out
    of the compose file and of every command line.
  - The role R(opsdeck.platform.compose_app,ansible_collections.opsdeck.platform.compose_app_role) renders the
    definition from the application model.
author:
  - opsdeck platform team (@opsdeck)
requirements:
  - Docker Engine with the Compose v2 CLI plugin (C(docker compose)) on the managed host.
  - PyYAML on the managed host.
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: Compares the rendered files and the running containers; changes nothing.
  diff_mode:
    support: full
    details: Shows the compose file; secrets are listed by name only.
  idempotent:
    support: full
    details: Unchanged files and healthy containers report C(changed=false).
options:
  name:
    description: The Compose project name.
    type: str
    required: true
  project_dir:
    description: Directory of the project (compose file, secrets, revisions, state).
    type: path
    required: true
  state:
    description: V(present) deploys; V(absent) runs C(docker compose down) and removes O(project_dir).
    type: str
    choices: [present, absent]
    default: present
  definition:
    description: The compose file, as a dictionary. Required with O(state=present).
    type: dict
  secrets:
    description:
      - Secret values by name. Written to C(secrets.env) (mode 0600, loaded through C(env_file)) and to
        C(secrets/<NAME>) (mode 0400, owned by O(secret_owner)), never into the compose file.
    type: dict
    default: {}
  secret_owner:
    description: C(uid[:gid]) that owns the per-secret files (the container's user, so it can read them).
    type: str
  health_checks:
    description: HTTP checks probed from the host against every container of a service.
    type: list
    elements: dict
    default: []
    suboptions:
      service:
        description: The compose service.
        type: str
        required: true
      port:
        description: Container port.
        type: int
        required: true
      path:
        description: Path to GET; a 2xx answer passes.
        type: str
        required: true
      scheme:
        description: V(http) or V(https).
        type: str
        default: http
      timeout_s:
        description: Timeout of one probe, seconds.
        type: int
        default: 3
  smoke_checks:
    description: Checks run once after the gate passed; a failure rolls back like a failed gate.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name shown in messages.
        type: str
        required: true
      service:
        description: The compose service.
        type: str
        required: true
      port:
        description: Container port.
        type: int
        required: true
      path:
        description: Path to GET.
        type: str
        required: true
      status:
        description: Expected HTTP status.
        type: int
        default: 200
      body_contains:
        description: Text the answer must contain.
        type: str
  pre_deploy:
    description: One-off commands run with the new definition before it starts (for example migrations).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name shown in messages.
        type: str
        required: true
      service:
        description: Service whose image and settings the command runs with.
        type: str
        required: true
      command:
        description: The command (the first element replaces the image's entrypoint).
        type: list
        elements: str
        required: true
      timeout_s:
        description: Time limit, seconds.
        type: int
        default: 300
  profiles:
    description: Compose profiles to activate.
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to wait for the health gate.
    type: int
    default: 120
  revisions_keep:
    description: Healthy revisions kept for rollback.
    type: int
    default: 5
  pull:
    description: V(missing) pulls images that are not present; V(always) pulls first; V(never) never pulls.
    type: str
    choices: [missing, always, never]
    default: missing
  remove_volumes:
    description: With O(state=absent), remove the project's named volumes too (data is lost).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Deploy the project
  opsdeck.platform.compose_project:
    name: web
    project_dir: /opt/opsdeck/apps/web
    definition:
      services:
        web:
          image: registry.example.com/acme/web:1.4.2
          ports: ["127.0.0.1:8080:8080"]
    secrets:
      DATABASE_URL: "{{ vault_web_database_url }}"
    secret_owner: "65534:65534"
    health_checks:
      - {service: web, port: 8080, path: /health}
    wait_timeout: 90

- name: Remove it
  opsdeck.platform.compose_project:
    name: web
    project_dir: /opt/opsdeck/apps/web
    state: absent
"""

RETURN = r"""
revision:
  description: The revision that runs after the task (the rolled-back one after a failure).
  returned: state=present
  type: int
  sample: 3
rolled_back:
  description: Whether a failed deployment was rolled back.
  returned: state=present
  type: bool
  sample: false
status:
  description: The project's containers after the task.
  returned: state=present
  type: list
  elements: dict
  sample: [{service: web, container: web-web-1, state: running, health: healthy, image: "acme/web:1.4.2"}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import (
        HAS_YAML,
        ComposeError,
        ComposeProject,
    )
except ImportError:
    ComposeProject = None
    HAS_YAML = False
    IMPORT_ERROR = traceback.format_exc()
else:
    IMPORT_ERROR = None if HAS_YAML else "No module named 'yaml'"


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "project_dir": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "definition": {"type": "dict"},
            "secrets": {"type": "dict", "default": {}, "no_log": True},
            "secret_owner": {"type": "str", "no_log": False},  # a uid:gid, not a secret
            "health_checks": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "service": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                    "path": {"type": "str", "required": True},
                    "scheme": {"type": "str", "default": "http"},
                    "timeout_s": {"type": "int", "default": 3},
                },
            },
            "smoke_checks": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "service": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                    "path": {"type": "str", "required": True},
                    "status": {"type": "int", "default": 200},
                    "body_contains": {"type": "str"},
                },
            },
            "pre_deploy": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "service": {"type": "str", "required": True},
                    "command": {"type": "list", "elements": "str", "required": True},
                    "timeout_s": {"type": "int", "default": 300},
                },
            },
            "profiles": {"type": "list", "elements": "str", "default": []},
            "wait_timeout": {"type": "int", "default": 120},
            "revisions_keep": {"type": "int", "default": 5},
            "pull": {"type": "str", "choices": ["missing", "always", "never"], "default": "missing"},
            "remove_volumes": {"type": "bool", "default": False},
        },
        required_if=[("state", "present", ("definition",))],
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    p = module.params
    docker = module.get_bin_path("docker", required=True)

    def run(argv, cwd=None, environ_update=None):
        return module.run_command(argv, cwd=cwd, environ_update=environ_update)

    project = ComposeProject(run, p["project_dir"], p["name"], docker=docker)
    project.profiles = p["profiles"]
    try:
        if p["state"] == "absent":
            result = project.absent(remove_volumes=p["remove_volumes"], check_mode=module.check_mode)
        else:
            result = project.present(
                p["definition"],
                secrets=p["secrets"],
                secret_owner=p["secret_owner"],
                health_checks=p["health_checks"],
                smoke_checks=p["smoke_checks"],
                pre_deploy=p["pre_deploy"],
                wait_timeout=p["wait_timeout"],
                revisions_keep=p["revisions_keep"],
                pull=p["pull"],
                check_mode=module.check_mode,
            )
    except ComposeError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    except Exception as exc:  # report any library error with its traceback
        module.fail_json(msg=f"project '{p['name']}': {exc}", exception=traceback.format_exc())
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
