"""Which corpus clips a benchmark build uses, and for what: references per split, held-out clips
(unrelated queries and hosts of partial copies) and other takes of a reference source (hard negatives).

The default split is by source and fixed: dev references from cap12, megamind, bikes, world, with
cap13 as hard negative and tree, carphone held out; test references from franck, minions, vtest,
wolfgang, with city, bigbuckbunny, single_face held out. Faces, animation, surveillance/static and
scenery appear in both.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from vidsim.errors import ConfigError

__all__ = [
    "SPLITS", "SOURCES_DEV", "SOURCES_TEST", "HELD_OUT", "NEGATIVE_TAKES", "SMALL_SOURCES_DEV",
    "SMALL_SOURCES_TEST", "SMALL_HELD_OUT", "Assignment", "split_sources", "assign_sources", "needed_clips",
    "split_clips",
]

SPLITS: tuple[str, ...] = ("dev", "test")

SOURCES_DEV: tuple[str, ...] = ("cap12", "megamind", "bikes", "world")
SOURCES_TEST: tuple[str, ...] = ("franck", "minions", "vtest", "wolfgang")
#: Held-out sources: never references; unrelated queries and hosts (partial copies, pip).
HELD_OUT: Mapping[str, tuple[str, ...]] = {"dev": ("tree", "carphone"), "test": ("city", "bigbuckbunny", "single_face")}
#: Another take of a reference source (hard negatives in that source's split): take -> source.
NEGATIVE_TAKES: Mapping[str, str] = {"cap13": "cap12"}

SMALL_SOURCES_DEV: tuple[str, ...] = ("bikes",)
SMALL_SOURCES_TEST: tuple[str, ...] = ("megamind",)
SMALL_HELD_OUT: Mapping[str, tuple[str, ...]] = {"dev": ("carphone",), "test": ("carphone",)}

#: {split: {"sources": ..., "held_out": ..., "takes": ...}} clip names
Assignment = dict[str, dict[str, tuple[str, ...]]]


def split_sources(small: bool = False, sources_dev: Sequence[str] | None = None,
                  sources_test: Sequence[str] | None = None, held_out: Mapping[str, Sequence[str]] | None = None,
                  ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, Sequence[str]]]:
    """(dev sources, test sources, {split: held-out}) with the defaults filled in (SMALL_* when small)."""
    return (
        tuple(sources_dev) if sources_dev is not None else (SMALL_SOURCES_DEV if small else SOURCES_DEV),
        tuple(sources_test) if sources_test is not None else (SMALL_SOURCES_TEST if small else SOURCES_TEST),
        dict(held_out) if held_out is not None else dict(SMALL_HELD_OUT if small else HELD_OUT),
    )


def needed_clips(small: bool = False, sources_dev: Sequence[str] | None = None,
                 sources_test: Sequence[str] | None = None,
                 held_out: Mapping[str, Sequence[str]] | None = None,
                 negative_takes: Mapping[str, str] = NEGATIVE_TAKES) -> list[str]:
    """Corpus clip names a build with these settings reads."""
    dev, test, held = split_sources(small, sources_dev, sources_test, held_out)
    names = list(dev) + list(test) + [n for s in SPLITS for n in held.get(s, ())]
    names += [t for t, of in negative_takes.items() if of in names]
    return list(dict.fromkeys(names))


def split_clips(split: str) -> tuple[str, ...]:
    """Every corpus clip of one split of the default build: its reference sources, their other takes,
    its held-out clips (what the packaged whitening was fitted on and int8 is calibrated on, for dev)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    sources = SOURCES_DEV if split == "dev" else SOURCES_TEST
    return (*sources, *[t for t, s in NEGATIVE_TAKES.items() if s in sources], *HELD_OUT[split])


def assign_sources(sources_dev: Sequence[str], sources_test: Sequence[str], held_out: Mapping[str, Sequence[str]],
                   negative_takes: Mapping[str, str], corpus: Mapping[str, Path]) -> Assignment:
    """The clips of each split; refuses a source in both splits, a held-out reference or a missing clip."""
    by_split = {"dev": tuple(sources_dev), "test": tuple(sources_test)}
    overlap = set(by_split["dev"]) & set(by_split["test"])
    if overlap:
        raise ConfigError(f"sources in both splits: {sorted(overlap)}")
    held = {s: tuple(held_out.get(s, ())) for s in SPLITS}
    refs_all = set(by_split["dev"]) | set(by_split["test"])
    bad = refs_all & (set(held["dev"]) | set(held["test"]))
    if bad:
        raise ConfigError(f"held-out sources also give references: {sorted(bad)}")
    takes = {s: tuple(t for t, of in negative_takes.items() if of in by_split[s] and t in corpus) for s in SPLITS}
    out = {s: {"sources": by_split[s], "held_out": held[s], "takes": takes[s]} for s in SPLITS}
    missing = sorted({n for v in out.values() for names in v.values() for n in names} - set(corpus))
    if missing:
        raise ConfigError(f"clips missing from the corpus: {missing}")
    return out
