from __future__ import annotations

from django.urls import path

from .views import datasets, experiments, prompts, reviews

app_name = "experiments"

urlpatterns = [
    path("experiments/", experiments.experiment_list, name="experiment_list"),
    path("experiments/new/", experiments.experiment_create, name="experiment_create"),
    path("experiments/<uuid:code>/", experiments.experiment_detail, name="experiment_detail"),
    path("experiments/<uuid:code>/edit/", experiments.experiment_edit, name="experiment_edit"),
    path("experiments/<uuid:code>/start/", experiments.experiment_start, name="experiment_start"),
    path("experiments/<uuid:code>/cancel/", experiments.experiment_cancel, name="experiment_cancel"),
    path("experiments/<uuid:code>/copy/", experiments.experiment_copy, name="experiment_copy"),
    path("experiments/<uuid:code>/delete/", experiments.experiment_delete, name="experiment_delete"),
    path("experiments/<uuid:code>/compare/", experiments.experiment_compare, name="experiment_compare"),
    path(
        "experiments/<uuid:code>/export/<str:fmt>/", experiments.experiment_export, name="experiment_export"
    ),
    path("experiments/<uuid:code>/review/", reviews.review_queue, name="review_queue"),
    path("experiments/<uuid:code>/try-out/", experiments.experiment_trial, name="experiment_trial"),
    path("experiments/<uuid:code>/reviews/", reviews.review_overview, name="review_overview"),
    path("runs/<uuid:code>/", experiments.run_detail, name="run_detail"),
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
