# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup engine of opsdeck.platform.

One package, three entry points: the Ansible modules (backup, backup_info, backup_prune,
backup_verify, backup_restore), the ``opsdeck-backup`` command that the ``backup`` role
installs on database hosts, and the container image for Kubernetes CronJobs.

Rules of this package, so that it runs the same on a controller and on a host with no
Ansible installed: standard library plus boto3 (imported lazily, only by the S3 store);
imports between its files are relative; nothing here imports ``ansible``.
"""
