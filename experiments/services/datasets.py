"""Versioned test cases and dataset snapshots: edits make new versions, runs keep the snapshot they used."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..importing import CaseData
from ..models import Dataset, DatasetSnapshot, SnapshotEntry, TestCase, TestCaseVersion


def dataset_variables(dataset: Dataset) -> set[str]:
    """Input variables provided by at least one current case of the dataset (one query)."""
    names: set[str] = set()
    for inputs in TestCaseVersion.objects.filter(
        case__dataset=dataset, case__removed__isnull=True, is_current=True
    ).values_list("inputs", flat=True):
        names.update(inputs)
    return names


def current_versions(dataset: Dataset):
    return (
        TestCaseVersion.objects.filter(case__dataset=dataset, case__removed__isnull=True, is_current=True)
        .select_related("case")
        .order_by("case__key")
    )


def add_case(dataset: Dataset, author, data: CaseData) -> TestCase:
    with transaction.atomic():
        key = data.key or _next_keys(dataset, 1)[0]
        case = TestCase.objects.create(dataset=dataset, key=key)
        _create_version(case, 1, author, data, "Created")
    return case


def edit_case(case: TestCase, author, data: CaseData, change_note: str = "") -> TestCaseVersion | None:
    """A new current version, or None when nothing changed. Earlier versions stay for old runs."""
    with transaction.atomic():
        current = TestCaseVersion.objects.select_for_update().filter(case=case, is_current=True).first()
        if current is not None and current.content() == data.content():
            return None
        number = (case.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        TestCaseVersion.objects.filter(case=case, is_current=True).update(is_current=False)
        version = _create_version(case, number, author, data, change_note or "Edited")
        if case.removed is not None:
            TestCase.objects.filter(pk=case.pk).update(removed=None)
    return version


def remove_case(case: TestCase) -> None:
    TestCase.objects.filter(pk=case.pk, removed__isnull=True).update(removed=timezone.now())


def import_cases(dataset: Dataset, author, cases: list[CaseData]) -> dict[str, int]:
    """All or nothing: new keys become cases, known keys get a new version when their content changed."""
    with transaction.atomic():
        existing = {c.key: c for c in TestCase.objects.select_for_update().filter(dataset=dataset)}
        currents = {
            v.case_id: v for v in TestCaseVersion.objects.filter(case__dataset=dataset, is_current=True)
        }
        numbers = dict(
            TestCaseVersion.objects.filter(case__dataset=dataset)
            .values("case_id")
            .annotate(n=Max("number"))
            .values_list("case_id", "n")
        )
        fresh_keys = iter(_next_keys(dataset, sum(1 for c in cases if not c.key)))
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        new_cases, new_versions, retired = [], [], []
        for data in cases:
            case = existing.get(data.key) if data.key else None
            if case is None:
                case = TestCase(dataset=dataset, key=data.key or next(fresh_keys))
                new_cases.append((case, data))
                continue
            current = currents.get(case.pk)
            if current is not None and current.content() == data.content() and case.removed is None:
                counts["unchanged"] += 1
                continue
            if current is not None:
                retired.append(current.pk)
            new_versions.append(_version(case, numbers.get(case.pk, 0) + 1, author, data, "Imported"))
            counts["updated"] += 1
        TestCase.objects.bulk_create([case for case, _ in new_cases])
        # bulk_create does not return primary keys on every database: fetch them by key.
        ids = dict(
            TestCase.objects.filter(dataset=dataset, key__in=[c.key for c, _ in new_cases]).values_list(
                "key", "pk"
            )
        )
        for case, data in new_cases:
            case.pk = ids[case.key]
            new_versions.append(_version(case, 1, author, data, "Imported"))
        counts["created"] = len(new_cases)
        TestCaseVersion.objects.filter(pk__in=retired).update(is_current=False)
        TestCase.objects.filter(
            dataset=dataset, key__in=[c.key for c in cases if c.key], removed__isnull=False
        ).update(removed=None)
        TestCaseVersion.objects.bulk_create(new_versions, batch_size=500)
    return counts


def take_snapshot(dataset: Dataset, author) -> DatasetSnapshot:
    """The dataset's current case versions, reusing the latest snapshot when nothing changed since."""
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        version_ids = set(current_versions(dataset).values_list("pk", flat=True))
        latest = dataset.snapshots.order_by("-number").first()
        if (
            latest is not None
            and set(latest.entries.values_list("case_version_id", flat=True)) == version_ids
        ):
            return latest
        snapshot = DatasetSnapshot.objects.create(
            dataset=dataset,
            number=(latest.number + 1) if latest else 1,
            case_count=len(version_ids),
            created_by=author,
        )
        SnapshotEntry.objects.bulk_create(
            [SnapshotEntry(snapshot=snapshot, case_version_id=pk) for pk in sorted(version_ids)],
            batch_size=1000,
        )
    return snapshot


def _version(case: TestCase, number: int, author, data: CaseData, note: str) -> TestCaseVersion:
    return TestCaseVersion(
        case=case,
        number=number,
        inputs=data.inputs,
        expected_output=data.expected_output,
        expected_label=data.expected_label,
        sensitive_attributes=data.sensitive_attributes,
        tags=data.tags,
        is_current=True,
        author=author,
        change_note=note,
    )


def _create_version(case: TestCase, number: int, author, data: CaseData, note: str) -> TestCaseVersion:
    version = _version(case, number, author, data, note)
    version.save()
    return version


def _next_keys(dataset: Dataset, count: int) -> list[str]:
    taken = set(TestCase.objects.filter(dataset=dataset).values_list("key", flat=True))
    keys, number = [], len(taken)
    while len(keys) < count:
        number += 1
        key = f"case-{number:04d}"
        if key not in taken:
            keys.append(key)
    return keys
