from __future__ import annotations

from django.contrib import admin

from .models import Job, StageChange, Task, UseCase


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["title", "team", "headcount", "hourly_cost", "updated"]
    list_filter = ["team"]
    list_select_related = ["team"]
    search_fields = ["title", "description", "team__name"]
    readonly_fields = ["code", "created", "updated"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["statement", "job", "kind", "mode", "exposure_label", "verdict", "hours_per_week"]
    list_filter = ["kind", "mode", "exposure_label", "verdict", "job__team"]
    list_select_related = ["job"]
    search_fields = ["statement", "job__title"]
    # Teams hold thousands of tasks and hundreds of jobs: no giant <select>s.
    raw_id_fields = ["job"]
    readonly_fields = ["code", "created", "updated"]


class StageChangeInline(admin.TabularInline):
    model = StageChange
    extra = 0
    readonly_fields = ["from_stage", "to_stage", "changed_by", "changed_at", "note"]
    can_delete = False


@admin.register(UseCase)
class UseCaseAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "stage", "mode", "risk_tier", "owner"]
    list_filter = ["stage", "risk_tier", "mode", "team"]
    list_select_related = ["team", "owner"]
    search_fields = ["name", "description"]
    raw_id_fields = ["owner", "tasks"]
    readonly_fields = ["code", "created", "updated"]
    inlines = [StageChangeInline]
