"""Seed sweeps by folder name: which saved models are seeds of one network.

``python -m quake train ... --seeds N`` writes ``NAME-s0`` ... ``NAME-s<N-1>``; a model
``NAME`` trained before its sweep has its other seeds saved beside it as ``NAME-s1``, ...
(``train --seed 1 --out NAME-s1``) and is then the sweep's first member. Members must agree
on kind, Mc and preset; an ensemble ``NAME`` of the members is another kind, so it is never
one of its own seeds. The tables over the seeds are `quake.scoring.seeds`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from quake.models.store import ModelCard

SEED_NAME = re.compile(r"(?P<base>.+)-s(?P<seed>\d{1,4})")
"""A seed member's folder name: the sweep's name, ``-s``, the seed's index."""


def seed_member_names(name: str, n: int) -> list[str]:
    """The member folder names of an ``n``-seed sweep called ``name``."""
    return [f"{name}-s{i}" for i in range(n)]


def seed_sweeps(models: Iterable[tuple[str, Any, Any, Any]]) -> dict[str, list[str]]:
    """``{sweep name: member names}`` from ``(name, kind, Mc, preset)`` of saved models.

    Members are ``NAME-s<k>`` (by ``k``), preceded by ``NAME`` itself when it is a model of
    the same kind, Mc and preset; a sweep needs two or more members. Members that disagree
    with each other on kind, Mc or preset form no sweep together."""
    found: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    keys: dict[str, tuple] = {}
    for name, kind, mc, preset in models:
        keys[name] = (kind, mc, preset)
        m = SEED_NAME.fullmatch(name)
        if m is not None:
            found[(m["base"], kind, mc, preset)].append((int(m["seed"]), name))
    out: dict[str, list[str]] = {}
    for (base, *key), members in sorted(found.items(), key=lambda kv: str(kv[0])):
        names = [n for _, n in sorted(members)]
        if keys.get(base) == tuple(key):
            names.insert(0, base)
        if len(names) >= 2 and base not in out:
            out[base] = names
    return out


def seed_members(sweeps: dict[str, list[str]]) -> set[str]:
    """The names of the sweeps' members but the first of each (``NAME``, or ``NAME-s0``
    without it): the rows a table folds into the first one's."""
    return {n for names in sweeps.values() for n in names[1:]}


def by_first(sweeps: dict[str, list]) -> dict[str, list]:
    """The sweeps keyed by their first member's name (the row that stands for them)."""
    return {(m[0] if isinstance(m[0], str) else m[0].name): m for m in sweeps.values()}


def seed_groups(cards: list[ModelCard]) -> dict[str, list[ModelCard]]:
    """``{sweep name: member cards}`` (`seed_sweeps`) of the readable cards."""
    good = {c.name: c for c in cards if not c.error}
    sweeps = seed_sweeps((c.name, c.kind, c.mc, c.preset) for c in good.values())
    return {base: [good[n] for n in names] for base, names in sweeps.items()}


def member_names(cards: list[ModelCard]) -> set[str]:
    """The cards' seed-sweep members but the first of each sweep (`seed_members`)."""
    return {c.name for cs in seed_groups(cards).values() for c in cs[1:]}
