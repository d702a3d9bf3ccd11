"""Jobs and tasks. Shares (people doing a task, time saved) are fractions 0..1 here, as stored (the
pages show them as percentages)."""

from __future__ import annotations

from rest_framework import serializers

from opportunities.models import Exposure, Job, LabelSource, Mode, Task, TaskKind, Verdict


class JobSerializer(serializers.ModelSerializer):
    task_count = serializers.IntegerField(read_only=True)
    annual_value = serializers.DecimalField(
        source="value_total", max_digits=20, decimal_places=2, read_only=True,
        help_text="Sum of its tasks' annual value.",
    )  # fmt: skip

    class Meta:
        model = Job
        fields = [
            "code", "title", "description", "headcount", "hourly_cost", "task_count", "annual_value",
            "created", "updated",
        ]  # fmt: skip
        read_only_fields = ["code", "created", "updated"]

    def validate_title(self, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise serializers.ValidationError("Give the job a title.")
        taken = Job.objects.filter(team=self.context["team"], title=title)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"A job titled “{title}” already exists in this team.")
        return title


class TaskSerializer(serializers.ModelSerializer):
    job = serializers.SlugRelatedField(
        slug_field="code", queryset=Job.objects.none(), help_text="The code of the job (in this team)."
    )
    job_title = serializers.CharField(source="job.title", read_only=True)
    annual_value = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)

    class Meta:
        model = Task
        fields = [
            "code", "job", "job_title", "statement", "kind", "hours_per_week", "people_share", "mode",
            "time_saved", "exposure_label", "label_source", "notes", "cases_per_year", "revenue_upside",
            "rubric_answer", "verdict", "feasibility", "annual_value", "created", "updated",
        ]  # fmt: skip
        read_only_fields = ["code", "verdict", "feasibility", "created", "updated"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        team = self.context.get("team")
        if team is not None:
            self.fields["job"].queryset = Job.objects.filter(team=team)

    def validate_statement(self, statement: str) -> str:
        if not statement.strip():
            raise serializers.ValidationError("Say what the task is.")
        return statement.strip()

    def validate(self, attrs: dict) -> dict:
        exposure = attrs.get("exposure_label", getattr(self.instance, "exposure_label", ""))
        source = attrs.get("label_source", getattr(self.instance, "label_source", ""))
        if source and not exposure:
            raise serializers.ValidationError({"label_source": "Needs an exposure_label."})
        if exposure and not source:
            attrs["label_source"] = LabelSource.HUMAN
        if not exposure and "exposure_label" in attrs:
            attrs["label_source"] = ""
        return attrs


class TaskFilters(serializers.Serializer):
    job = serializers.UUIDField(required=False, help_text="Only the tasks of this job (its code).")
    kind = serializers.ChoiceField(choices=TaskKind.choices, required=False)
    mode = serializers.ChoiceField(choices=Mode.choices, required=False)
    verdict = serializers.ChoiceField(choices=Verdict.choices, required=False)
    exposure_label = serializers.ChoiceField(choices=Exposure.choices, required=False)
    updated_after = serializers.DateTimeField(
        required=False, help_text="Only tasks changed after this time (ISO 8601), oldest change first."
    )


class ImportRowsSerializer(serializers.Serializer):
    rows = serializers.ListField(
        child=serializers.DictField(child=serializers.JSONField()),
        max_length=10_000,
        help_text="One object per task, keyed by the import columns (job, task, kind, hours_per_week, …), "
        "as in the CSV template. Row numbers in errors count the header as row 1, so rows[0] is row 2.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Check and plan only; import nothing.")


class ImportFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .csv (UTF-8) or .xlsx file, as on the import page.")
    dry_run = serializers.BooleanField(default=False)


class ImportResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    tasks_created = serializers.IntegerField()
    jobs_created = serializers.IntegerField()
    new_jobs = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())
