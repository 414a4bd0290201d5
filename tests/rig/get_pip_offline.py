# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test's sanity venvs start with no pip and fetch a get-pip script from
ci-files.testing.ansible.com, which cannot be reached here. This script does the same
job with what Python ships: `ensurepip` puts pip in the venv, then pip installs the
requested packages from PyPI (which is reachable). It takes get-pip's arguments:
pip options and requirement specifiers, plus get-pip's own --no-setuptools/--no-wheel.

The sanity tier copies it to ~/.ansible/test/cache/get_pip_<version>.py.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args], check=False).returncode)
