"""Congestion-control algorithms by name.

An algorithm module defines a :class:`~tcplab.tcp.congestion.base.CongestionControl`
subclass decorated with :func:`register`; importing the package imports the built-in modules,
which registers them. To add one (e.g. CUBIC, RFC 9438), write ``cubic.py`` in this package
and import it from ``__init__.py``.
"""

from __future__ import annotations

from .base import CongestionControl

__all__ = ["register", "create", "available", "lookup"]

_REGISTRY: dict[str, type[CongestionControl]] = {}


def register(cls: type[CongestionControl]) -> type[CongestionControl]:
    """Class decorator: make ``cls`` available under ``cls.name`` (lower-cased)."""
    if not (isinstance(cls, type) and issubclass(cls, CongestionControl)):
        raise TypeError(f"{cls!r} is not a CongestionControl subclass")
    key = (cls.name or "").strip().lower()
    if not key:
        raise ValueError(f"{cls.__name__} has no name to register under")
    known = _REGISTRY.get(key)
    if known is not None and known is not cls:
        raise ValueError(f"congestion control '{key}' is already registered "
                         f"({known.__module__}.{known.__qualname__})")
    _REGISTRY[key] = cls
    return cls


def available() -> list[str]:
    """Registered names, sorted."""
    return sorted(_REGISTRY)


def lookup(name: str) -> type[CongestionControl]:
    """The class registered under ``name`` (case-insensitive); ValueError if none is."""
    cls = _REGISTRY.get(str(name).strip().lower())
    if cls is None:
        raise ValueError(f"unknown congestion control '{name}'; "
                         f"available: {', '.join(available())}")
    return cls


def create(name: str) -> CongestionControl:
    """A fresh instance of the algorithm registered under ``name`` (case-insensitive), for one
    connection. ValueError naming the available algorithms if ``name`` is unknown."""
    return lookup(name)()
