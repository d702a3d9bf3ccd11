from __future__ import annotations

from django.urls import path

from .views import (
    audits,
    datasets,
    docs,
    experiments,
    imports,
    jobs,
    models,
    prompts,
    reports,
    tasks,
    teams,
    triage,
)

app_name = "api"

TEAM = "teams/<slug:team_slug>/"

urlpatterns = [
    path("openapi.json", docs.Schema.as_view(), name="schema"),
    path("docs/", docs.Docs.as_view(), name="docs"),
    path("teams/", teams.TeamList.as_view(), name="team_list"),
    path(TEAM, teams.TeamDetail.as_view(), name="team_detail"),
    path(TEAM + "jobs/", jobs.JobList.as_view(), name="job_list"),
    path(TEAM + "jobs/<uuid:code>/", jobs.JobDetail.as_view(), name="job_detail"),
    path(TEAM + "tasks/", tasks.TaskList.as_view(), name="task_list"),
    path(TEAM + "tasks/import/", imports.TaskImport.as_view(), name="task_import"),
    path(TEAM + "tasks/<uuid:code>/", tasks.TaskDetail.as_view(), name="task_detail"),
    path(TEAM + "experiments/", experiments.ExperimentList.as_view(), name="experiment_list"),
    path(TEAM + "experiments/<uuid:code>/", experiments.ExperimentDetail.as_view(), name="experiment_detail"),
    path(
        TEAM + "experiments/<uuid:code>/start/",
        experiments.ExperimentStart.as_view(),
        name="experiment_start",
    ),
    path(
        TEAM + "experiments/<uuid:code>/cancel/",
        experiments.ExperimentCancel.as_view(),
        name="experiment_cancel",
    ),
    path(
        TEAM + "experiments/<uuid:code>/results/",
        experiments.ExperimentResults.as_view(),
        name="experiment_results",
    ),
    path(TEAM + "models/", models.ModelList.as_view(), name="model_list"),
    path(TEAM + "models/<uuid:code>/", models.ModelDetail.as_view(), name="model_detail"),
    path(TEAM + "prompts/", prompts.PromptList.as_view(), name="prompt_list"),
    path(TEAM + "prompts/<uuid:code>/", prompts.PromptDetail.as_view(), name="prompt_detail"),
    path(TEAM + "prompts/<uuid:code>/versions/", prompts.PromptVersions.as_view(), name="prompt_versions"),
    path(TEAM + "datasets/", datasets.DatasetList.as_view(), name="dataset_list"),
    path(TEAM + "datasets/<uuid:code>/", datasets.DatasetDetail.as_view(), name="dataset_detail"),
    path(TEAM + "datasets/<uuid:code>/cases/", datasets.DatasetCases.as_view(), name="dataset_cases"),
    path(TEAM + "audits/", audits.AuditList.as_view(), name="audit_list"),
    path(TEAM + "audits/<uuid:code>/", audits.AuditDetail.as_view(), name="audit_detail"),
    path(TEAM + "risks/", audits.RiskList.as_view(), name="risk_list"),
    path(TEAM + "reports/", reports.ReportList.as_view(), name="report_list"),
    path(TEAM + "reports/<uuid:code>/", reports.ReportDetail.as_view(), name="report_detail"),
    path(TEAM + "reports/<uuid:code>/download/", reports.ReportDownload.as_view(), name="report_download"),
    path(TEAM + "triage/", triage.TriageLatest.as_view(), name="triage"),
    path(TEAM + "triage/predictions/", triage.PredictionList.as_view(), name="triage_predictions"),
]
