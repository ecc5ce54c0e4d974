"""The docks that show what TCP did, each reading only the trace through a :class:`TraceContext`."""
