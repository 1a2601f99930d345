"""Structure-aware mutation of JSON inputs: change the parsed tree (types, keys, nesting) and
write it back, so that readers meet well-formed files of the wrong shape, not only syntax errors."""
from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from typing import Any

_NUMBERS = (0, 1, -1, 2, 7, 8, 255, 256, 2**31, 2**63, -(2**63), 10**30, 0.5, -0.0, 1e308, math.inf, -math.inf,
            math.nan)


def random_value(rng: random.Random, keys: Sequence[str], depth: int = 0) -> Any:
    """A random JSON value: scalars of every type, keys of the target's format, small containers."""
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice(_NUMBERS)
    if kind == 3:
        return rng.randint(-1000, 1000)
    if kind in (4, 5):
        return rng.choice([*keys, "", "a-b", "a-b-c", "-", "x" * 300, "\u00e9\u4e2d\U0001f600", "packaged:x", "../x"])
    if kind == 6:
        return []
    if kind == 7:
        return [random_value(rng, keys, depth + 1) for _ in range(rng.randint(1, 5))]
    return {rng.choice(keys) if keys else "k": random_value(rng, keys, depth + 1) for _ in range(rng.randint(1, 4))}


def _nodes(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key or index) of every value below `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((value, key))
            _nodes(item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.append((value, index))
            _nodes(item, out)
    return out


def mutate_json(data: bytes, rng: random.Random, keys: Sequence[str]) -> bytes | None:
    """`data` parsed, one to three tree edits, serialised again; None when it is not JSON."""
    try:
        root = {"": json.loads(data)}
    except (ValueError, RecursionError):
        return None
    for _ in range(rng.randint(1, 3)):
        nodes = _nodes(root, [])
        parent, key = rng.choice(nodes)
        op = rng.randrange(6)
        if op == 0:  # another value, of any type
            parent[key] = random_value(rng, keys)
        elif op == 1 and parent is not root:  # remove it
            del parent[key]
        elif op == 2:  # wrap it (deeper nesting, or a list where an object was)
            parent[key] = [parent[key]] if rng.random() < 0.5 else {rng.choice(keys) if keys else "k": parent[key]}
        elif op == 3 and isinstance(parent[key], dict):  # a new member
            parent[key][rng.choice(keys) if keys else "k"] = random_value(rng, keys)
        elif op == 4 and isinstance(parent[key], list):  # a new element
            parent[key].append(random_value(rng, keys))
        elif op == 5:  # a copy of another subtree
            other_parent, other_key = rng.choice(nodes)
            parent[key] = json.loads(json.dumps(other_parent[other_key]))
    try:
        return json.dumps(root[""]).encode()
    except (ValueError, RecursionError):
        return None
