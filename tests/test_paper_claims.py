"""Claims as records: verdicts on stand-in data are marked in their own records and counted
apart from those on the paper's data (docs/paper.md)."""

import json

from fastdln.apps.paper.claims import Claim, mark_stand_in, tally, tally_line, write_claims


def _claims():
    def check(id, verdict):
        return Claim.check(id, "words", verdict, {}, unit="iteration", reading="r",
                           tie_band=0.05)
    paper = [check("fig2.a", "PASS"), check("fig2.b", "FAIL"),
             Claim.info("fig2.c", "words", {}, reading="description: d")]
    stand_in = mark_stand_in([check("fig7.a", "PASS"), check("fig7.b", "TIE"),
                              check("fig7.c", "FAIL")], ["synthetic UCI-shaped data"])
    return paper, stand_in


def test_stand_in_verdicts_are_marked_in_their_records(tmp_path):
    paper, stand_in = _claims()
    assert not any(c.stand_in for c in paper) and all(c.stand_in for c in stand_in)
    assert stand_in[0].measured["stand_in_data"] == ["synthetic UCI-shaped data"]
    assert "STAND-IN data" in str(stand_in[0]) and "STAND-IN" not in str(paper[0])
    assert mark_stand_in(paper, []) == paper and not paper[0].stand_in  # the paper's data
    write_claims(str(tmp_path), paper + stand_in)
    entries = json.loads((tmp_path / "claims.json").read_text())
    assert [e["stand_in"] for e in entries] == [False] * 3 + [True] * 3


def test_stand_in_verdicts_are_counted_apart(tmp_path):
    paper, stand_in = _claims()
    counts = tally(paper + stand_in)
    assert counts["paper data"] == {"PASS": 1, "FAIL": 1, "TIE": 0, "INFO": 1}
    assert counts["stand-ins"] == {"PASS": 1, "FAIL": 1, "TIE": 1, "INFO": 0}
    assert tally_line(paper + stand_in) == ("paper data: 1 PASS, 1 FAIL, 0 TIE, 1 INFO; "
                                            "stand-ins: 1 PASS, 1 FAIL, 1 TIE, 0 INFO")
    write_claims(str(tmp_path), paper + stand_in)  # the same from claims.json
    assert tally(json.loads((tmp_path / "claims.json").read_text())) == counts
