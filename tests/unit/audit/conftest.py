"""Fixtures of the auditor's tests."""

from __future__ import annotations

import boa
import pytest

from tests.unit.audit.boa_capture import BoaLogCapture


@pytest.fixture
def capture():
    with BoaLogCapture(boa.env) as c:
        yield c
