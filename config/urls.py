from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from experiments.views import health as health_views

urlpatterns = [
    path("admin/login/", account_views.admin_login),  # the admin's sign-in, rate limited
    path("admin/", admin.site.urls),
    path("health/", health_views.health, name="health"),  # instance admins (staff) only
    path("", include("accounts.urls")),
    path("", include("api.account_urls")),
    path("api/v1/", include("api.urls")),
    path("t/<slug:team_slug>/", include("opportunities.urls")),
    path("t/<slug:team_slug>/", include("llmcore.urls")),
    path("t/<slug:team_slug>/", include("experiments.urls")),
    path("t/<slug:team_slug>/", include("audits.urls")),
    path("t/<slug:team_slug>/", include("audits.fairness.urls")),
    path("t/<slug:team_slug>/", include("reports.urls")),
]

# Error pages that keep the navigation and say why (accounts/errors.py).
handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
handler500 = "accounts.errors.server_error"
