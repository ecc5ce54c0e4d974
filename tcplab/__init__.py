"""tcplab: a visual lab for TCP.

The engine packages (``sim``, ``net``, ``tcp``, ``trace``, ``scenario``, ``apps``, ``session``) are pure
Python and never import Qt; only ``tcplab.gui`` does.
"""

__version__ = "0.1.0"
