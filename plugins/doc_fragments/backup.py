# Copyright (c) opsdeck platform team
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options shared by the backup modules; the matching argument spec is plugins/module_utils/backup_args.py."""

from __future__ import annotations


class ModuleDocFragment:
    # The store and the backup's scope: every backup module.
    DOCUMENTATION = r"""
options:
  app:
    description: The app of the application model the backup belongs to (first part of its key).
    type: str
    required: true
  database:
    description: The database's name in the model (second part of its key).
    type: str
    required: true
  store:
    description:
      - Where backups are kept, the shape of the inventory variable C(opsdeck_backup_store).
      - An S3-compatible bucket (AWS S3, GCS interoperability, Ceph RGW, SeaweedFS, versitygw, MinIO) or a local
        directory.
    type: dict
    required: true
    suboptions:
      type:
        description: V(s3) or V(local).
        type: str
        choices: [s3, local]
        default: s3
      bucket:
        description: The bucket (S3). For Object Lock, the bucket must have been created with Object Lock enabled.
        type: str
      prefix:
        description: Key prefix under which the backups live.
        type: str
        default: ''
      endpoint_url:
        description: The S3 endpoint, for anything but AWS (for example V(https://storage.googleapis.com)).
        type: str
      region:
        description: The S3 region.
        type: str
      access_key:
        description: Access key id. Leave unset to use boto3's usual sources (environment, instance profile).
        type: str
      secret_key:
        description: Secret access key.
        type: str
      session_token:
        description: Session token of temporary credentials.
        type: str
      sse:
        description: Server-side encryption of each object.
        type: str
        choices: [AES256, "aws:kms"]
      kms_key_id:
        description: The KMS key for O(store.sse=aws:kms).
        type: str
      storage_class:
        description: Storage class of the data objects (for example V(STANDARD_IA)).
        type: str
      lock_mode:
        description:
          - Object Lock retention put on every object of a backup. V(COMPLIANCE) cannot be shortened by anyone;
            V(GOVERNANCE) can, with a special permission.
        type: str
        choices: [GOVERNANCE, COMPLIANCE]
      lock_days:
        description: Days each object stays locked (with O(store.lock_mode)).
        type: int
        default: 0
      part_size_mb:
        description: Multipart part size in MiB; memory use is about part size times (concurrency + 1).
        type: int
        default: 16
      concurrency:
        description: Parts uploaded at once.
        type: int
        default: 4
      checksum_algorithm:
        description:
          - The checksum each part of a multipart upload carries and the server checks (S3's flexible checksums).
            V(CRC32) is the AWS SDKs' default and costs a fraction of V(SHA256)'s CPU. Either way the SHA-256 of
            the whole stored object goes into the manifest and is checked before every restore.
        type: str
        choices: [CRC32, SHA256]
        default: CRC32
      retries:
        description: Further attempts of an S3 request after a connection error, throttling or a 5xx answer.
        type: int
        default: 3
      retry_delay:
        description: Seconds before the first retry; doubled each time.
        type: float
        default: 1.0
      ca_bundle:
        description: CA bundle to verify the endpoint's certificate with.
        type: path
      path:
        description: The directory of a V(local) store (absolute).
        type: path
notes:
  - A connection (C(source), C(target), C(server)) is a mapping
    C({engine, host, port, user, password, container, dbname}). With C(container), the engine's tools run inside that
    container (C(docker exec -i)); otherwise they run on the host that runs the module and connect to C(host:port).
    The password goes to a 0600 file or to the environment of the tool, never to its command line.
requirements:
  - age and zstd on the host that runs the module (Debian packages C(age), C(zstd)).
  - boto3 for an S3 store (Debian package C(python3-boto3)).
"""

    # The age identity: verify and restore.
    IDENTITY = r"""
options:
  identity:
    description:
      - The age identity (C(AGE-SECRET-KEY-...)) that decrypts the backups, from a vault variable or an AAP
        credential. Written to a 0600 file in a private temporary directory for the run, then removed.
      - Mutually exclusive with O(identity_file).
    type: str
  identity_file:
    description: A file on the managed host holding the age identity.
    type: path
"""
