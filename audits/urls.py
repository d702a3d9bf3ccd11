from django.urls import path

from . import views

app_name = "audits"

urlpatterns = [
    path("audits/", views.audit_list, name="audit_list"),
    path("audits/policy/", views.gate_policy, name="gate_policy"),
    path("audits/template-items/", views.team_items, name="team_items"),
    path("audits/<uuid:code>/", views.audit_detail, name="audit_detail"),
    path("audits/<uuid:code>/submit/", views.audit_submit, name="audit_submit"),
    path("audits/<uuid:code>/sign/", views.audit_sign, name="audit_sign"),
    path("audits/<uuid:code>/reopen/", views.audit_reopen, name="audit_reopen"),
    path("audits/<uuid:code>/diff/", views.audit_diff, name="audit_diff"),
    path("audits/<uuid:code>/items/<int:item_id>/answer/", views.item_answer, name="item_answer"),
    path("audits/<uuid:code>/items/<int:item_id>/comment/", views.item_comment, name="item_comment"),
    path("audits/<uuid:code>/items/<int:item_id>/evidence/", views.item_evidence, name="item_evidence"),
    path("audits/<uuid:code>/items/<int:item_id>/risk/", views.item_risk, name="item_risk"),
    path("evidence/<uuid:code>/download/", views.evidence_download, name="evidence_download"),
    path("evidence/<uuid:code>/remove/", views.evidence_remove, name="evidence_remove"),
    path("usecases/<uuid:code>/audits/", views.usecase_audits, name="usecase_audits"),
    path("usecases/<uuid:code>/risks/", views.risk_register, name="risk_register"),
    path("usecases/<uuid:code>/tier/", views.tier, name="tier"),
    path("usecases/<uuid:code>/report/", views.report_view, name="report"),
    path("usecases/<uuid:code>/report.<str:fmt>", views.report_export, name="report_export"),
    path("risks/<uuid:code>/", views.risk_detail, name="risk_detail"),
    path("trail/", views.trail_list, name="trail"),
]
