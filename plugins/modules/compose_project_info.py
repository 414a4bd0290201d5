#!/usr/bin/python
# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_project_info
short_description: Report Compose projects deployed by compose_project, and whether they match a desired state
version_added: 0.1.0
description:
  - The read-only partner of M(opsdeck.platform.compose_project). For each project, reports its last recorded
    deployment (revision, status) and its containers (state, health, image).
  - When a project is given its desired O(projects[].definition) (and secrets), also reports whether it is in sync
    (same compose file, same secrets, last deployment healthy, every container healthy right now) and, if not, why.
    One call covers every project, so a role can skip the projects that need no work.
  - Also reports the Compose CLI plugin's version, and fails with a clear message when there is none.
author:
  - opsdeck platform team (@opsdeck)
requirements:
  - Docker Engine with the Compose v2 CLI plugin on the managed host.
extends_documentation_fragment:
  - opsdeck.platform.attributes
attributes:
  check_mode:
    support: full
    details: Read-only.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Read-only.
options:
  projects:
    description: The projects to report on.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The Compose project name.
        type: str
        required: true
      project_dir:
        description: The project's directory.
        type: path
        required: true
      definition:
        description: The desired compose file; when given, C(in_sync) is reported.
        type: dict
      secrets:
        description: The desired secrets (compared, never returned).
        type: dict
        default: {}
      health_checks:
        description: HTTP checks, as for M(opsdeck.platform.compose_project).
        type: list
        elements: dict
        default: []
      profiles:
        description: Active Compose profiles.
        type: list
        elements: str
        default: []
"""

EXAMPLES = r"""
- name: Which projects need a deployment?
  opsdeck.platform.compose_project_info:
    projects:
      - name: web
        project_dir: /opt/opsdeck/apps/web
        definition: "{{ web_definition }}"
  register: info

- name: Show the ones out of sync
  ansible.builtin.debug:
    msg: "{{ info.projects | rejectattr('in_sync') | map(attribute='name') }}"
"""

RETURN = r"""
compose_version:
  description: Version of the Docker Compose CLI plugin.
  returned: always
  type: str
  sample: 2.40.3
projects:
  description: One entry per requested project.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The project name.
      type: str
      returned: always
      sample: web
    deployed:
      description: Whether a compose file is present.
      type: bool
      returned: always
      sample: true
    status:
      description: Status of the last deployment (V(healthy), V(failed)), or null.
      type: str
      returned: always
      sample: healthy
    revision:
      description: The revision that runs.
      type: int
      returned: always
      sample: 4
    in_sync:
      description: Whether the project matches its desired definition and secrets and is healthy.
      type: bool
      returned: when definition was given
      sample: false
    reason:
      description: Why the project is (not) in sync.
      type: str
      returned: when definition was given
      sample: compose file differs
    containers:
      description: The project's containers.
      type: list
      elements: dict
      returned: always
      sample: [{service: web, container: web-web-1, state: running, health: healthy, image: "acme/web:1"}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible_collections.opsdeck.platform.plugins.module_utils.compose_project import (
        HAS_YAML,
        ComposeError,
        ComposeProject,
        list_containers,
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
            "projects": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "project_dir": {"type": "path", "required": True},
                    "definition": {"type": "dict"},
                    "secrets": {"type": "dict", "default": {}, "no_log": True},
                    "health_checks": {"type": "list", "elements": "dict", "default": []},
                    "profiles": {"type": "list", "elements": "str", "default": []},
                },
            },
        },
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=IMPORT_ERROR)
    docker = module.get_bin_path("docker")
    if not docker:
        module.fail_json(
            msg="no docker CLI on this host: install the Docker engine (role opsdeck.platform.docker_host)"
        )
    rc, out, err = module.run_command([docker, "compose", "version", "--short"])
    if rc != 0:
        answer = err.strip() or out.strip()
        module.fail_json(
            msg=f"the Docker Compose v2 CLI plugin does not answer (docker compose version: {answer}); "
            "install it (role opsdeck.platform.docker_host)"
        )

    def run(argv, cwd=None, environ_update=None):
        return module.run_command(argv, cwd=cwd, environ_update=environ_update)

    results = []
    try:
        everything = list_containers(run, docker)
        for spec in module.params["projects"]:
            project = ComposeProject(run, spec["project_dir"], spec["name"], docker=docker)
            project.profiles = spec["profiles"]
            project.containers_cache = everything.get(spec["name"], [])
            entry = project.info(spec["definition"], spec["secrets"], spec["health_checks"])
            results.append(entry)
    except ComposeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, compose_version=out.strip().lstrip("v"), projects=results)


if __name__ == "__main__":
    main()
