"""Which replica owns which key: rendezvous (highest random weight) hashing over the members.

Every key ranks every member by a hash of the pair and goes to the highest. The rank of a pair
does not depend on the other members, so when a member joins it takes from each other member
only the keys it now outranks, and when one leaves only its own keys move, spread over the
rest: the minimal movement consistent hashing promises, without a ring or virtual nodes. It is
pure: every replica that sees the same members computes the same owners.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = ["owner", "view_digest"]


def _weight(member: str, key: str) -> int:
    digest = hashlib.blake2b(f"{member}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(key: str, members: Sequence[str]) -> str | None:
    """The member that owns ``key`` (``None`` when there are no members). Ties, which need a
    64-bit collision, go to the smaller identity so the answer never depends on order."""
    best: tuple[int, str] | None = None
    for member in members:
        rank = (_weight(member, key), member)
        if best is None or rank[0] > best[0] or (rank[0] == best[0] and member < best[1]):
            best = rank
    return None if best is None else best[1]


def view_digest(members: Iterable[str]) -> str:
    """A short name for a set of members, the same for every replica that sees that set: what a
    replica publishes in its Lease as the membership view it acts on."""
    text = "\n".join(sorted(set(members)))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
