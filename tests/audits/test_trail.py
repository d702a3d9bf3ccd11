"""The hash-chained trail: events from every app append entries; tampering with them is found."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from audits import trail
from audits.models import AppendOnly, TrailEntry, TrailHead
from opportunities.usecases import move_stage


def verify_command() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit_trail", stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def test_governance_events_from_every_app_are_recorded(team, owner, editor, use_case, client):
    # use case created (opportunities signal), audit created (audits), stage moved with override.
    actions = list(TrailEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[0] == "usecase.created"
    client.force_login(owner)
    from django.urls import reverse

    client.post(reverse("member_update", args=[team.slug, editor.memberships.get().pk]), {"role": "viewer"})
    client.post(
        reverse("feasibility_thresholds", args=[team.slug]),
        {
            "min_cases": 40,
            "automation_pass_lower": 90,
            "automation_acceptance": 90,
            "augmentation_lower": 60,
            "min_reviewers_automation": 2,
            "min_reviewers_augmentation": 1,
        },
    )
    role = TrailEntry.objects.get(action="member.role_changed")
    assert role.change == {"role": ["editor", "viewer"]} and role.actor_name == owner.username
    thresholds = TrailEntry.objects.get(action="thresholds.changed")
    assert thresholds.change["min_cases"] == [30, 40]


def test_verify_prints_ok_with_the_count(use_case, governance):
    code, out, _ = verify_command()
    count = TrailEntry.objects.count()
    assert code == 0 and out.strip() == f"OK {count} events" and count >= 2


def test_each_entry_links_to_the_previous_hash(use_case, governance):
    entries = list(TrailEntry.objects.order_by("seq"))
    assert entries[0].prev_hash == trail.GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash and after.seq == before.seq + 1


def test_an_entry_altered_with_raw_sql_fails_verification_naming_it(use_case, governance, submitted):
    entries = list(TrailEntry.objects.order_by("seq"))
    target = entries[2]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TrailEntry._meta.db_table} SET actor_name = %s WHERE id = %s", ["mallory", target.pk]
        )
    code, out, err = verify_command()
    assert code == 1 and out == ""
    assert f"entry #{target.seq}" in err and "changed after it was recorded" in err


def test_changing_the_change_json_is_found_too(use_case, governance):
    target = TrailEntry.objects.get(action="audit.created")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TrailEntry._meta.db_table} SET change = %s WHERE id = %s",
            ['{"kind": "model"}', target.pk],
        )
    result = trail.verify()
    assert not result.ok and result.broken_seq == target.seq


def test_a_deleted_entry_fails_verification(use_case, governance, submitted):
    entries = list(TrailEntry.objects.order_by("seq"))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TrailEntry._meta.db_table} WHERE id = %s", [entries[1].pk])
    code, _, err = verify_command()
    assert code == 1 and f"entry #{entries[1].seq} is missing" in err


def test_deleting_the_newest_entries_fails_verification(use_case, governance, submitted):
    last = TrailEntry.objects.order_by("-seq").first()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TrailEntry._meta.db_table} WHERE id = %s", [last.pk])
    result = trail.verify()
    assert not result.ok and result.broken_seq == last.seq


def test_rebuilding_the_chain_without_the_key_fails(use_case, governance, settings):
    """A database writer who recomputes the hashes with a guessed key is still caught."""
    target = TrailEntry.objects.order_by("seq").first()
    settings.AUDIT_TRAIL_KEY = "guessed"
    forged = trail.entry_hash(target, target.prev_hash)
    settings.AUDIT_TRAIL_KEY = "assay-test-real-key"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TrailEntry._meta.db_table} SET hash = %s WHERE id = %s", [forged, target.pk])
    assert not trail.verify().ok


def test_the_key_comes_from_settings_not_the_database(use_case, settings):
    assert trail.verify().ok
    settings.AUDIT_TRAIL_KEY = "another key"
    assert not trail.verify().ok
    assert not any("key" in field.name for field in TrailEntry._meta.fields + TrailHead._meta.fields)


def test_entries_cannot_be_changed_or_deleted_through_the_orm(use_case):
    entry = TrailEntry.objects.first()
    entry.action = "x"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        TrailEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AppendOnly):
        TrailEntry.objects.all().delete()


def test_a_stage_move_records_who_moved_it_from_where_to_where(use_case, owner, monkeypatch):
    from opportunities import usecases

    monkeypatch.setattr(usecases, "_STAGE_GATES", [])
    move_stage(use_case, target="build", expected="scope", user=owner, note="go")
    entry = TrailEntry.objects.get(action="usecase.stage_moved")
    assert entry.change == {"stage": ["scope", "build"], "note": "go"}
    assert entry.use_case_code == str(use_case.code) and entry.actor_name == owner.username
    assert trail.verify().ok


def test_deleting_a_team_or_a_user_leaves_the_chain_intact(team, use_case, approved, editor):
    from audits import services

    services.reopen(approved, editor)
    count = TrailEntry.objects.count()
    editor.memberships.all().delete()
    team.delete()
    assert TrailEntry.objects.count() == count and trail.verify().ok
