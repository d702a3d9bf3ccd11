from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("t/<slug:team_slug>/", include("opportunities.urls")),
    path("t/<slug:team_slug>/", include("llmcore.urls")),
    path("t/<slug:team_slug>/", include("llmcore.experiments.urls")),
]
