from __future__ import annotations

from django.contrib import admin, messages
from kombu.exceptions import OperationalError

from . import tasks
from .forms import ModelConfigAdminForm
from .models import InferenceCall, Modality, ModelConfig, TeamBudget, TeamModel, ThroughputSample


class TeamModelInline(admin.TabularInline):
    model = TeamModel
    extra = 0
    autocomplete_fields = ["team"]
    verbose_name = "team it is enabled for"
    verbose_name_plural = "Teams it is enabled for (not needed when offered to every team)"


@admin.register(ModelConfig)
class ModelConfigAdmin(admin.ModelAdmin):
    form = ModelConfigAdminForm
    list_display = [
        "name",
        "team",
        "backend",
        "device",
        "modality",
        "external",
        "available_to_all_teams",
        "is_active",
        "measured_tokens_per_s",
    ]
    list_filter = ["team", "backend", "device", "modality", "external", "available_to_all_teams", "is_active"]
    search_fields = ["name", "source", "remote_model"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    readonly_fields = [
        "code",
        "measured_latency_s",
        "measured_tokens_per_s",
        "measured_at",
        "created",
        "updated",
    ]
    inlines = [TeamModelInline]
    actions = ["measure"]
    fieldsets = [
        (None, {"fields": ["name", "team", "available_to_all_teams", "is_active", "modality", "notes"]}),
        (
            "Loading",
            {
                "fields": [
                    "backend",
                    "source",
                    "revision",
                    "dtype",
                    "device",
                    "load_in_8bit",
                    "context_window",
                ]
            },
        ),
        ("Selection criteria", {"fields": ["parameter_count", "licence", "open_weights"]}),
        (
            "Hosted API and data",
            {
                "fields": [
                    "external",
                    "allowed_roles",
                    "remote_model",
                    "api_key_env",
                    "request_timeout_s",
                    "max_retries",
                    "max_concurrency",
                ]
            },
        ),
        ("Costs", {"fields": ["cost_per_1k_input", "cost_per_1k_output", "cost_per_hour"]}),
        ("Measured", {"fields": ["measured_latency_s", "measured_tokens_per_s", "measured_at"]}),
        ("Record", {"fields": ["code", "created", "updated"]}),
    ]

    @admin.action(description="Measure latency and throughput (queues a job on each model's queue)")
    def measure(self, request, queryset):
        queued = 0
        for config in queryset:
            if config.modality != Modality.TEXT:
                self.message_user(
                    request, f"Skipped {config.name}: not a text generation model.", messages.WARNING
                )
                continue
            try:
                tasks.enqueue_measurement(config, team=config.team, user=request.user)
            except OperationalError:
                self.message_user(
                    request, "The task queue cannot be reached; start a worker.", messages.ERROR
                )
                return
            queued += 1
        if queued:
            self.message_user(request, f"Queued {queued} measurement(s).", messages.SUCCESS)


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin):
    list_display = ["team", "monthly_token_limit", "monthly_cost_limit", "updated"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    search_fields = ["team__name", "team__slug"]


@admin.register(InferenceCall)
class InferenceCallAdmin(admin.ModelAdmin):
    """The usage log is evidence of spend: readable, never edited here."""

    list_display = [
        "created",
        "team",
        "model_name",
        "user",
        "purpose",
        "outcome",
        "tokens_in",
        "tokens_out",
        "cost",
        "latency_s",
    ]
    list_filter = ["outcome", "purpose", "team", "created"]
    search_fields = ["model_name", "user__username", "team__name", "error"]
    list_select_related = ["team", "user"]
    date_hierarchy = "created"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ThroughputSample)
class ThroughputSampleAdmin(admin.ModelAdmin):
    list_display = ["created", "model", "worker", "batch_size", "tokens_out", "seconds", "cold"]
    list_filter = ["cold", "worker"]
    list_select_related = ["model"]
