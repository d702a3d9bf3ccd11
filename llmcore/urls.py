from django.urls import path

from . import views

# Included under /t/<team_slug>/ in config/urls.py.
urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("models/new/", views.model_create, name="model_create"),
    path("models/<uuid:code>/", views.model_detail, name="model_detail"),
    path("models/<uuid:code>/edit/", views.model_edit, name="model_edit"),
    path("models/<uuid:code>/delete/", views.model_delete, name="model_delete"),
    path("models/<uuid:code>/measure/", views.model_measure, name="model_measure"),
    path("usage/", views.usage_report, name="usage"),
    path("usage/budget/", views.budget_edit, name="budget_edit"),
]
