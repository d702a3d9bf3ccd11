from __future__ import annotations

from django.urls import path

from .views import datasets, prompts

app_name = "experiments"

urlpatterns = [
    path("prompts/", prompts.prompt_list, name="prompt_list"),
    path("prompts/new/", prompts.prompt_create, name="prompt_create"),
    path("prompts/<uuid:code>/", prompts.prompt_detail, name="prompt_detail"),
    path("prompts/<uuid:code>/edit/", prompts.prompt_edit, name="prompt_edit"),
    path("datasets/", datasets.dataset_list, name="dataset_list"),
    path("datasets/new/", datasets.dataset_create, name="dataset_create"),
    path("datasets/<uuid:code>/", datasets.dataset_detail, name="dataset_detail"),
    path("datasets/<uuid:code>/import/", datasets.dataset_import, name="dataset_import"),
    path("datasets/<uuid:code>/cases/new/", datasets.case_create, name="case_create"),
    path("cases/<uuid:code>/", datasets.case_detail, name="case_detail"),
    path("cases/<uuid:code>/edit/", datasets.case_edit, name="case_edit"),
    path("cases/<uuid:code>/remove/", datasets.case_remove, name="case_remove"),
]
