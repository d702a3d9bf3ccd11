from __future__ import annotations

from django.urls import path

from . import views

app_name = "fairness"

urlpatterns = [
    path("fairness/", views.fairness_home, name="home"),
    path("fairness/assessments/new/", views.assessment_new, name="assessment_new"),
    path("fairness/assessments/<uuid:code>/", views.assessment_detail, name="assessment_detail"),
    path("fairness/counterfactual/new/", views.counterfactual_new, name="counterfactual_new"),
    path("fairness/counterfactual/<uuid:code>/", views.counterfactual_detail, name="counterfactual_detail"),
    path("fairness/groups/", views.group_lists, name="group_lists"),
    path("fairness/stereotype/new/", views.stereotype_new, name="stereotype_new"),
    path("fairness/stereotype/suites/upload/", views.suite_upload, name="suite_upload"),
    path("fairness/stereotype/<uuid:code>/", views.stereotype_detail, name="stereotype_detail"),
    path("fairness/stereotype/<uuid:code>/cancel/", views.stereotype_cancel, name="stereotype_cancel"),
    path("fairness/stereotype/<uuid:code>/resume/", views.stereotype_resume, name="stereotype_resume"),
    path("fairness/redteam/new/", views.redteam_new, name="redteam_new"),
    path("fairness/redteam/<uuid:code>/", views.redteam_detail, name="redteam_detail"),
    path("fairness/redteam/<uuid:code>/override/", views.redteam_override, name="redteam_override"),
    path("fairness/<str:kind>/<uuid:code>/export.<str:fmt>", views.export, name="export"),
    path("fairness/pii/", views.pii_overview, name="pii_overview"),
    path("fairness/pii/datasets/<uuid:code>/", views.pii_dataset, name="pii_dataset"),
]
