"""Named, seeded random streams.

Every source of randomness in a run (a link's loss draws, a host's ISN, jitter...) asks for its
own stream by name. A stream's seed is derived from the run seed and the name alone, so adding a
new consumer never shifts the numbers another consumer sees, and the same seed always gives the
same run.
"""

from __future__ import annotations

import hashlib
import random


class RandomStreams:
    """A family of independent ``random.Random`` generators keyed by name."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, random.Random] = {}

    def stream(self, name: str) -> random.Random:
        """Return the generator for ``name``, creating it on first use."""
        rng = self._streams.get(name)
        if rng is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            rng = random.Random(int.from_bytes(digest[:8], "big"))
            self._streams[name] = rng
        return rng
