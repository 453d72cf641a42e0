"""Distinct approvers: one person fills at most one rule's count, and no fill is wasted.

"Two reviewers and one compliance officer" means three people. Counting greedily rule by rule
can strand a solution (the compliance officer used up by the peer-review rule while a plain
reviewer sits idle), so this is a maximum bipartite matching between rule slots and people
(Kuhn's augmenting paths): whenever the approvals could cover every rule, they are found to.
Slots are tried in the order given (restrictive rules first), and people in preference order,
so the result is deterministic and reads naturally in the report.
"""

from __future__ import annotations

from collections.abc import Sequence


def assign(demands: Sequence[tuple[str, int, Sequence[str]]]) -> dict[str, list[str]]:
    """`(rule, count, eligible people)` -> the people counted for each rule, each used once."""
    slots: list[tuple[str, Sequence[str]]] = []
    for rule, count, eligible in demands:
        slots.extend((rule, eligible) for _ in range(count))
    holder: dict[str, int] = {}  # person -> slot index

    def augment(slot: int, visited: set[str]) -> bool:
        for person in slots[slot][1]:
            if person in visited:
                continue
            visited.add(person)
            current = holder.get(person)
            if current is None or augment(current, visited):
                holder[person] = slot
                return True
        return False

    for index in range(len(slots)):
        augment(index, set())
    counted: dict[str, list[str]] = {rule: [] for rule, _, _ in demands}
    for person, slot in sorted(holder.items(), key=lambda item: item[1]):
        counted[slots[slot][0]].append(person)
    return counted
