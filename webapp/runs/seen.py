"""What a run's writer has met before, in memory that does not grow with the district.

`SeenIds` is a Bloom filter of (collection, sourcedId). A sourcedId it was never shown is
certainly new; one it may have been shown is a suspect, which the database settles once the
run's records are stored (a lookup on its index). The filter is BITS bits whatever the
district: past a few million records more sourcedIds become suspects, each costing a lookup,
never a wrong answer.

`RecentTargets` remembers the reference targets lately handed to the run_references table, so
that the school or class named on every page goes to the database once, not once a page. It
is exact (a target it drops was sent before) and forgets everything when full.
"""

from __future__ import annotations

BITS = 1 << 26  # 8 MiB: at a million records about one in a thousand is a suspect
SUSPECTS = 20_000  # suspects kept at most; past this the run's end asks about every record
TARGETS = 50_000  # targets remembered at most


class SeenIds:
    """A Bloom filter of the sourcedIds of a run's collections, two probes a sourcedId."""

    def __init__(self, bits: int | None = None) -> None:
        bits = bits or BITS
        if bits & (bits - 1) or bits < 64:
            raise ValueError("the filter's size must be a power of two, at least 64 bits")
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    def add(self, entity: str, ids: list[str]) -> list[str]:
        """Remember the sourcedIds of a page; return those that may have been seen before."""
        bits, mask = self._bits, self._mask
        salt = hash(entity)
        suspects = []
        for sourced_id in ids:
            # Python's hash of a str is 64 bits of SipHash: the two probes are its halves.
            h = hash(sourced_id) ^ salt
            a, b = h & mask, (h >> 32) & mask
            byte_a, bit_a, byte_b, bit_b = a >> 3, 1 << (a & 7), b >> 3, 1 << (b & 7)
            if bits[byte_a] & bit_a and bits[byte_b] & bit_b:
                suspects.append(sourced_id)
            else:
                bits[byte_a] |= bit_a
                bits[byte_b] |= bit_b
        return suspects


class RecentTargets:
    """The (collection, reference, target) triples lately sent, to send each once."""

    def __init__(self, cap: int = TARGETS) -> None:
        self.cap = cap
        self._sent: set[tuple[str, str, str]] = set()

    def fresh(self, targets: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """Return the targets not sent lately, in their order, and remember them as sent."""
        sent = self._sent
        new = [target for target in targets if target not in sent]
        if len(sent) + len(new) > self.cap:
            sent.clear()
        sent.update(new)
        return new
