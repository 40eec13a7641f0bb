"""The capacity figures say exactly when a policy's merge lets an arming give way, coalesces the
denials in force, and overflows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.denial.capacity import Capacity, capacity, same_length_ids
from bridge.denial.policy import COALESCED_SID, POLICY_LIMIT, Denial, merge_denials
from bridge.identity_center.scp import ALLOW_ALL, SCP_LIMIT

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LIMITS = [("", POLICY_LIMIT), (ALLOW_ALL, SCP_LIMIT)]


def figures(document: str, limit: int) -> Capacity:
    foreign = json.loads(document)["Statement"] if document else []
    return capacity(limit, foreign)


def written(document: str, limit: int, denial: Denial, stop: str) -> int:
    """How many users' denials the merge takes before `stop` happens."""
    users = same_length_ids(400)
    for k, user in enumerate(users):
        merged = merge_denials(document, [replace(denial, ic_user_id=user)], NOW, HOUR, limit)
        if stop == "unarmed" and merged.unarmed:
            return k
        if stop == "overflow" and merged.overflow:
            return k
        document = merged.document
        if stop == "coalesced" and COALESCED_SID in document:
            return k
    raise AssertionError("400 denials fitted")


@pytest.mark.parametrize(("document", "limit"), LIMITS)
def test_an_arming_gives_way_just_past_the_armed_figure(document: str, limit: int) -> None:
    end = NOW + timedelta(minutes=5)
    armed = Denial("-", end + timedelta(seconds=4), end)
    assert written(document, limit, armed, "unarmed") == figures(document, limit).armed


@pytest.mark.parametrize(("document", "limit"), LIMITS)
def test_denials_in_force_are_coalesced_just_past_the_in_force_figure(
    document: str, limit: int
) -> None:
    in_force = Denial("-", NOW)
    assert written(document, limit, in_force, "coalesced") == figures(document, limit).in_force


@pytest.mark.parametrize(("document", "limit"), LIMITS)
def test_a_policy_overflows_just_past_the_coalesced_figure(document: str, limit: int) -> None:
    in_force = Denial("-", NOW)
    assert written(document, limit, in_force, "overflow") == figures(document, limit).coalesced
