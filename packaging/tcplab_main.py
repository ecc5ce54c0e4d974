"""Entry point of the one-folder application that ``tcplab.spec`` builds: the ``tcplab``
command, the same as the console script that pip installs."""

import sys

from tcplab.cli import main

if __name__ == "__main__":
    sys.exit(main())
