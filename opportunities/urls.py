from django.urls import path

from .views import breakdown, bulk, home, io, jobs, matrix, portfolio, tasks, thresholds, triage, usecases

urlpatterns = [
    path("", home.team_home, name="team_home"),
    path("portfolio/", portfolio.portfolio, name="portfolio"),
    path("portfolio/bulk/", bulk.portfolio_bulk, name="portfolio_bulk"),
    path("matrix/", matrix.matrix, name="matrix"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<uuid:code>/", jobs.job_detail, name="job_detail"),
    path("jobs/<uuid:code>/edit/", jobs.job_edit, name="job_edit"),
    path("jobs/<uuid:code>/delete/", jobs.job_delete, name="job_delete"),
    path("jobs/<uuid:code>/tasks/new/", tasks.task_create, name="task_create"),
    path("jobs/<uuid:code>/breakdown/", breakdown.breakdown, name="job_breakdown"),
    path("jobs/<uuid:code>/breakdown/start/", breakdown.breakdown_start, name="job_breakdown_start"),
    path("breakdown/proposals/<uuid:code>/accept/", breakdown.proposal_accept, name="proposal_accept"),
    path("breakdown/proposals/<uuid:code>/discard/", breakdown.proposal_discard, name="proposal_discard"),
    path("tasks/<uuid:code>/", tasks.task_detail, name="task_detail"),
    path("tasks/<uuid:code>/evidence/", tasks.task_evidence, name="task_evidence"),
    path("feasibility/", thresholds.thresholds, name="feasibility_thresholds"),
    path("triage/", triage.triage, name="triage"),
    path("triage/run/", triage.triage_start, name="triage_start"),
    path("triage/tasks/<uuid:code>/label/", triage.triage_label, name="triage_label"),
    path("tasks/<uuid:code>/edit/", tasks.task_edit, name="task_edit"),
    path("tasks/<uuid:code>/delete/", tasks.task_delete, name="task_delete"),
    path("import/", io.task_import, name="task_import"),
    path("export/<str:fmt>/", io.portfolio_export, name="portfolio_export"),
    path("usecases/", usecases.usecase_list, name="usecase_list"),
    path("usecases/<uuid:code>/", usecases.usecase_detail, name="usecase_detail"),
    path("usecases/<uuid:code>/edit/", usecases.usecase_edit, name="usecase_edit"),
    path("usecases/<uuid:code>/stage/", usecases.usecase_stage, name="usecase_stage"),
    path("usecases/<uuid:code>/delete/", usecases.usecase_delete, name="usecase_delete"),
]
