"""Enrollment end to end: the bureau's canonical JSON reaches the 司法所, the police station and
the grid of the residence, the procuratorate and the sentencing court, each in its own format."""

from __future__ import annotations

import json

import pytest

from tests.conftest import RunningGateway
from tests.flows import (
    JUSTICE_BUREAU,
    PROCURATORATE,
    SUNWU_OFFICE,
    SUNWU_STATION,
    WUDINGFU_GRID,
    flow,
    sample,
)

pytestmark = pytest.mark.broker


def test_enrollment_reaches_the_residence_with_the_grid_seeing_only_the_visit(fresh_gateway: RunningGateway) -> None:
    _, received = flow(
        fresh_gateway,
        JUSTICE_BUREAU,
        "canonical",
        sample("canonical", "enrollment.registered.json"),
        {
            SUNWU_OFFICE: "enrollment.residence",
            SUNWU_STATION: "enrollment.residence",
            WUDINGFU_GRID: "enrollment.residence",
            PROCURATORATE: "enrollment.notify_parties",
        },
    )
    task = json.loads(received[WUDINGFU_GRID])
    assert task["person"]["name"] == "张伟"
    assert task["person"]["id_number"] == "372321********0019"
    assert task["supervision_level"] == "普管"
