"""A claim of the paper checked in numbers, and the ``claims.json`` of a reproduction
(apps layer).

A claim is data: its ``id`` (``fig<k>.<name>``), the paper's words, a verdict (``PASS`` or
``FAIL`` where the paper asserts something, ``TIE`` where the runs compared are within the tie
band of docs/paper.md, ``INFO`` for a description such as the data used),
the unit runs are compared in, and the numbers the verdict rests on. Every claim states its
reading in ``measured``: ``reading`` (a race's ``"levels"``, see :mod:`.verdicts`, else the short
name of the test, e.g. ``"cond(X) within 1.5x of the paper's"``) and ``tie_band`` (the band
used, or None with ``tie_band_note`` ``"not a race"``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CLAIMS_FILE", "Claim", "NOT_A_RACE", "mark_stand_in", "read_claims", "stated_reading",
           "tally", "tally_line", "write_claims"]

CLAIMS_FILE = "claims.json"
VERDICTS = ("PASS", "FAIL", "TIE", "INFO")
NOT_A_RACE = "not a race"  # tie_band_note of a claim that compares no runs within a band


def stated_reading(measured, evidence, reading, tie_band=None):
    """``measured`` and ``evidence`` with the claim's reading stated in both.

    Parameters
    ----------
    measured : dict
        The numbers of the claim; it may state its reading itself (a race's
        ``{"reading": "levels", "tie_band": ...}``), and then ``reading`` must be None.
    evidence : str
        The claim's line for people.
    reading : str or None
        The short name of the test the verdict uses.
    tie_band : float or None
        The relative tie band the test uses; None: the claim is not a race (no tie band).

    Returns
    -------
    (dict, str)
        ``measured`` with ``reading`` and ``tie_band`` (and ``tie_band_note`` when the band
        is None), and ``evidence`` ending with the reading and the band.

    Raises
    ------
    ValueError
        If the reading is stated nowhere, or twice.
    """
    if reading is None:
        if "reading" not in measured or "tie_band" not in measured:
            raise ValueError("a claim states its reading: pass reading= (and tie_band=)")
        return measured, evidence
    if "reading" in measured:
        raise ValueError("the reading is stated twice: in measured and as reading=")
    note = {} if tie_band is not None else {"tie_band_note": NOT_A_RACE}
    band = f"tie band {tie_band:.0%}" if tie_band is not None else f"no tie band ({NOT_A_RACE})"
    sep = "; " if evidence else ""
    return (dict(measured, reading=reading, tie_band=tie_band, **note),
            f"{evidence}{sep}reading: {reading}; {band}")


@dataclass
class Claim:
    """One sentence of the paper and how it fared.

    Attributes
    ----------
    id : str
        ``"fig<k>.<name>"``; the figure is the part before the dot.
    claim : str
        The paper's words.
    verdict : {"PASS", "FAIL", "TIE", "INFO"}
    measured : dict
        The numbers the verdict rests on (JSON-ready), with the ``reading`` and ``tie_band``
        it used (:func:`stated_reading`).
    unit : {"iteration", "sweep"} or None
        The unit runs are compared in (None: no comparison of runs).
    evidence : str
        The numbers in one line, for people.
    stand_in : bool
        The verdict rests on stand-in data, not the paper's (:func:`mark_stand_in`): it says
        nothing about the paper's data sets and is counted apart (:func:`tally`).
    """

    id: str
    claim: str
    verdict: str
    measured: dict = field(default_factory=dict)
    unit: str | None = None
    evidence: str = ""
    stand_in: bool = False

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")
        if "reading" not in self.measured or "tie_band" not in self.measured:
            raise ValueError(f"{self.id}: measured must state the reading and tie_band used")

    @classmethod
    def check(cls, id, claim, holds, measured, *, unit=None, evidence="", reading=None,
              tie_band=None):
        """A claim of the paper: PASS if ``holds`` is True, FAIL if False; a verdict string
        (``"PASS"``, ``"FAIL"``, ``"TIE"``) is taken as it is. ``reading`` and ``tie_band``
        name the test used (:func:`stated_reading`), unless ``measured`` states them."""
        verdict = holds if isinstance(holds, str) else ("PASS" if holds else "FAIL")
        if verdict == "INFO":
            raise ValueError("holds must be a bool or PASS, FAIL or TIE, not 'INFO'")
        measured, evidence = stated_reading(measured, evidence, reading, tie_band)
        return cls(id, claim, verdict, measured, unit, evidence)

    @classmethod
    def info(cls, id, claim, measured, evidence="", *, reading):
        """A description (the data used, ...): INFO, neither PASS nor FAIL; ``reading`` says
        what it describes (no tie band)."""
        measured, evidence = stated_reading(measured, evidence, reading)
        return cls(id, claim, "INFO", measured, None, evidence)

    @property
    def figure(self):
        return self.id.split(".")[0]

    @property
    def passed(self):
        return self.verdict == "PASS"

    @property
    def failed(self):
        return self.verdict == "FAIL"

    def to_dict(self):
        """The JSON object of ``claims.json``."""
        return {"id": self.id, "figure": self.figure, "claim": self.claim,
                "verdict": self.verdict, "stand_in": self.stand_in, "unit": self.unit,
                "measured": _jsonable(self.measured), "evidence": self.evidence}

    def __str__(self):
        notes = ([f"per {self.unit}"] if self.unit else []) + (
            ["STAND-IN data"] if self.stand_in else [])
        unit = f" ({', '.join(notes)})" if notes else ""
        return f"[{self.verdict}] {self.id}{unit}: {self.claim}\n         {self.evidence}"


def mark_stand_in(claims, data):
    """Mark ``claims`` as resting on the stand-ins named in ``data`` (a list of their
    names; empty: the paper's data, nothing marked). Returns ``claims``."""
    if data:
        for claim in claims:
            claim.stand_in = True
            claim.measured["stand_in_data"] = list(data)
    return claims


SOURCES = ("paper data", "stand-ins")


def tally(claims):
    """``{"paper data": {verdict: count}, "stand-ins": {...}}`` of ``claims`` (Claim objects
    or ``claims.json`` entries): verdicts on stand-in data are counted apart."""
    counts = {source: dict.fromkeys(VERDICTS, 0) for source in SOURCES}
    for claim in claims:
        entry = claim if isinstance(claim, dict) else claim.to_dict()
        counts[SOURCES[bool(entry.get("stand_in"))]][entry["verdict"]] += 1
    return counts


def tally_line(claims):
    """One line of the counts of :func:`tally`, e.g. ``paper data: 20 PASS, 5 FAIL, 3 TIE, 2
    INFO; stand-ins: 2 PASS, 4 FAIL, 0 TIE, 3 INFO``."""
    return "; ".join(f"{source}: " + ", ".join(f"{n} {verdict}" for verdict, n in
                                                 counts.items())
                     for source, counts in tally(claims).items())


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python numbers, and non-finite floats as
    strings (JSON has no inf or nan)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else str(float(value))
    return value


def read_claims(path):
    """The claims of a ``claims.json`` as a list of dicts ([] if there is none)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def write_claims(out_dir, claims, run=None, figure_order=None):
    """Write ``claims`` into ``out_dir/claims.json``, replacing the entries of their figures
    and keeping those of other figures (so the figures of one run end up together). ``run``
    (e.g. ``{"seed": 0, "quick": False}``) is stored in each entry as ``"run"``.

    Returns
    -------
    str
        The path written.
    """
    path = os.path.join(out_dir, CLAIMS_FILE)
    figures = {c.figure for c in claims}
    try:
        kept = [c for c in read_claims(path) if c.get("figure") not in figures]
    except (ValueError, AttributeError):  # not a claims file of ours: overwrite it
        kept = []
    entries = kept + [dict(c.to_dict(), run=_jsonable(run or {})) for c in claims]
    if figure_order is not None:
        rank = {name: k for k, name in enumerate(figure_order)}
        entries.sort(key=lambda e: rank.get(e["figure"], len(rank)))
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")
    return path
