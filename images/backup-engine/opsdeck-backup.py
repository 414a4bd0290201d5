# SPDX-License-Identifier: GPL-3.0-or-later
"""opsdeck-backup: the backup engine of opsdeck.platform (its image; the backup role installs the same on hosts)."""

import sys

sys.path.insert(0, "/usr/local/lib/opsdeck-backup")
from opsdeck_backup.cli import main

sys.exit(main())
