"""A small byte mutator for the built-in engine (no coverage feedback): flips, cuts, inserts, tokens, splices."""
from __future__ import annotations

import random
from collections.abc import Sequence

_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, corpus: Sequence[bytes], tokens: Sequence[bytes],
           max_len: int) -> bytes:
    """`data` with one to four random edits, at most `max_len` bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(out)
        i = rng.randrange(n + 1)
        if op == 0 and n:  # flip one bit
            j = rng.randrange(n)
            out[j] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # random byte
            out[rng.randrange(n)] = rng.randrange(256)
        elif op == 2 and n:  # an interesting integer, 1/2/4 bytes, either byte order
            width = rng.choice((1, 2, 4))
            value = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
            j = rng.randrange(n)
            out[j:j + width] = value.to_bytes(width, rng.choice(("big", "little")))
        elif op == 3 and n:  # delete a chunk
            del out[i:i + rng.randint(1, max(1, min(64, n // 4)))]
        elif op == 4:  # insert random bytes
            out[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 5 and n:  # duplicate a chunk
            j = rng.randrange(n)
            out[i:i] = out[j:j + rng.randint(1, 64)]
        elif op == 6 and n:  # truncate
            del out[rng.randrange(n):]
        elif op == 7 and tokens:  # insert or overwrite with a dictionary token
            token = rng.choice(tokens)
            if rng.random() < 0.5:
                out[i:i] = token
            else:
                out[i:i + len(token)] = token
        elif op == 8 and corpus:  # splice: our head, another input's tail
            other = rng.choice(corpus)
            out = out[:i] + other[rng.randrange(len(other) + 1):]
    return bytes(out[:max_len])
