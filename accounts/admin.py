from django.contrib import admin

from .models import Invitation, Membership, Team, UserSession


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["identifier", "team", "role", "status", "invited_by", "created"]
    list_filter = ["status", "role"]
    search_fields = ["identifier", "team__name"]
    readonly_fields = ["code", "created", "responded"]


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Signed-in sessions; deleting one here signs that session out."""

    list_display = ["user", "created", "address", "user_agent"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "session_key", "address", "user_agent", "created"]

    def has_add_permission(self, request) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        from .sessions import end_session

        end_session(obj)

    def delete_queryset(self, request, queryset) -> None:
        from .sessions import end_session

        for obj in queryset:
            end_session(obj)
