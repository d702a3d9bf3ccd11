from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_list, name="report_list"),
    path("reports/request/", views.report_request, name="report_request"),
    path("reports/<uuid:code>/", views.report_detail, name="report_detail"),
    path("reports/<uuid:code>/download/", views.report_download, name="report_download"),
    path("reports/<uuid:code>/delete/", views.report_delete, name="report_delete"),
]
