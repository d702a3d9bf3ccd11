"""Fixtures for audits: a use case, a second auditor, audits in each state."""

from __future__ import annotations

import pytest

from audits import services
from audits.models import Answer
from opportunities.usecases import create_use_case
from tests.factories import make_job, make_task, make_user


@pytest.fixture(autouse=True)
def _evidence_dir(settings, tmp_path):
    settings.AUDIT_EVIDENCE_DIR = tmp_path / "evidence"


@pytest.fixture
def use_case(team, owner):
    task = make_task(make_job(team), "Draft replies to customer emails")
    return create_use_case(team, owner, [task], name="Email drafting", owner=owner)


@pytest.fixture
def auditor2(team):
    return make_user("audra", team=team, role="auditor")


def answer_all(audit, user, answer=Answer.YES):
    for item in audit.items.all():
        services.answer_item(item, answer=answer, notes="checked", user=user)


@pytest.fixture
def governance(use_case, editor):
    return services.start_audit(use_case, "governance", editor)


@pytest.fixture
def submitted(governance, editor):
    answer_all(governance, editor)
    return services.submit(governance, editor)


@pytest.fixture
def approved(submitted, auditor):
    services.sign(submitted, user=auditor, decision="approved", comment="fine")
    submitted.refresh_from_db()
    return submitted
