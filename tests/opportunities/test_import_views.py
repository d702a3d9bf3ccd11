from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from opportunities.models import Job, Task
from tests.factories import make_job

GOOD = b"job,task,kind,hours_per_week,headcount\nSupport agent,Answer emails,write,5,10\nAnalyst,Read reports,read,2,3\n"
BAD = (
    b"job,task,kind,hours_per_week\n"
    b"Support agent,Answer emails,write,5\n"
    b"Support agent,Tag tickets,read,abc\n"
    b"Analyst,Read reports,typing,2\n"
)


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def url(team) -> str:
    return reverse("task_import", args=[team.slug])


def upload(client, team, data: bytes, name: str = "tasks.csv", **extra):
    return client.post(url(team), {"file": SimpleUploadedFile(name, data)}, **extra)


def token_of(response) -> str:
    return re.search(r'name="token" value="([0-9a-f]{32})"', response.content.decode()).group(1)


def test_editor_sees_the_form_with_the_accepted_columns(as_user, editor, team):
    response = as_user(editor).get(url(team))
    assert response.status_code == 200
    body = response.content.decode()
    for column in ("job", "task", "hours_per_week", "people_share", "exposure_label", "hourly_cost"):
        assert f"<code>{column}</code>" in body
    assert "?template=1" in body


def test_viewer_gets_403_and_stranger_404(viewer_client, team):
    assert viewer_client.get(url(team)).status_code == 403
    assert upload(viewer_client, team, GOOD).status_code == 403
    assert not Task.objects.exists()


def test_stranger_gets_404(stranger_client, team):
    assert stranger_client.get(url(team)).status_code == 404
    assert upload(stranger_client, team, GOOD).status_code == 404


def test_auditor_cannot_import(as_user, auditor, team):
    assert as_user(auditor).get(url(team)).status_code == 403


def test_the_template_csv_imports_cleanly(owner_client, team):
    response = owner_client.get(url(team) + "?template=1")
    assert response["Content-Disposition"] == 'attachment; filename="acme-task-import-template.csv"'
    preview = upload(owner_client, team, response.content, "template.csv")
    assert "Import 2 tasks" in preview.content.decode()


def test_upload_shows_a_preview_and_imports_nothing_yet(owner_client, team):
    response = upload(owner_client, team, GOOD)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Import 2 tasks" in body and "Answer emails" in body and "Read reports" in body
    assert '>2</div><div class="stat-label">new jobs' in body
    assert not Task.objects.exists() and not Job.objects.exists()


def test_confirm_imports_and_redirects_to_the_portfolio(owner_client, team):
    token = token_of(upload(owner_client, team, GOOD))
    response = owner_client.post(url(team), {"token": token}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portfolio", args=[team.slug])
    assert "Imported 2 tasks and 2 new jobs." in response.content.decode()
    assert Task.objects.filter(job__team=team).count() == 2
    assert Job.objects.get(team=team, title="Support agent").headcount == 10


def pending_files(settings) -> list[str]:
    folder = settings.DATA_DIR / "imports"
    return sorted(path.name for path in folder.glob("*.json")) if folder.exists() else []


def test_the_preview_file_is_deleted_when_the_import_is_confirmed(owner_client, team, settings):
    token = token_of(upload(owner_client, team, GOOD))
    assert pending_files(settings) == [f"{token}.json"]
    owner_client.post(url(team), {"token": token})
    assert pending_files(settings) == []


def test_cancelling_the_preview_deletes_its_file_and_imports_nothing(owner_client, team, settings):
    token = token_of(upload(owner_client, team, GOOD))
    response = owner_client.post(url(team), {"token": token, "cancel": "1"}, follow=True)
    assert "Import cancelled: nothing was imported." in response.content.decode()
    assert pending_files(settings) == [] and not Task.objects.exists()
    response = owner_client.post(url(team), {"token": token}, follow=True)
    assert "upload the file again" in response.content.decode() and not Task.objects.exists()


def test_confirming_twice_imports_once(owner_client, team):
    token = token_of(upload(owner_client, team, GOOD))
    owner_client.post(url(team), {"token": token})
    response = owner_client.post(url(team), {"token": token}, follow=True)
    assert "expired" in response.content.decode()
    assert Task.objects.count() == 2


def test_a_forged_token_imports_nothing(owner_client, team):
    response = owner_client.post(url(team), {"token": "0" * 32}, follow=True)
    assert "upload the file again" in response.content.decode()
    assert not Task.objects.exists()


def test_every_row_error_is_listed_and_nothing_can_be_confirmed(owner_client, team):
    response = upload(owner_client, team, BAD)
    body = response.content.decode()
    assert "Nothing was imported" in body
    assert "must be a number between 0 and 80 (got &quot;abc&quot;)" in body
    assert "must be one of write, read, chat, other (got &quot;typing&quot;)" in body
    assert re.search(r'<td class="num">3</td><td>hours_per_week</td>', body)
    assert re.search(r'<td class="num">4</td><td>kind</td>', body)
    assert 'name="token"' not in body
    assert not Task.objects.exists()


def test_fixing_the_file_and_uploading_again_works(owner_client, team):
    upload(owner_client, team, BAD)
    fixed = BAD.replace(b"abc", b"3").replace(b"typing", b"read")
    token = token_of(upload(owner_client, team, fixed))
    owner_client.post(url(team), {"token": token})
    assert Task.objects.filter(job__team=team).count() == 3


def test_a_newer_upload_replaces_the_pending_one(owner_client, team):
    first = token_of(upload(owner_client, team, GOOD))
    upload(owner_client, team, GOOD.replace(b"Answer emails", b"Other"))
    owner_client.post(url(team), {"token": first})
    assert not Task.objects.exists()


def test_confirm_revalidates_against_the_current_data(owner_client, team, tmp_path):
    token = token_of(upload(owner_client, team, GOOD))
    pending = tmp_path / "imports" / f"{token}.json"
    pending.write_text(pending.read_text().replace('"5"', '"500"'))
    response = owner_client.post(url(team), {"token": token})
    assert "must be a number between 0 and 80" in response.content.decode()
    assert not Task.objects.exists()


def test_thousands_of_errors_are_capped_with_a_count(owner_client, team):
    data = b"job,task,kind\n" + b"A,t,bad\n" * 600
    body = upload(owner_client, team, data).content.decode()
    assert body.count('class="row-error"') == 500
    assert "and 100 more errors not shown" in body


def test_a_non_utf8_file_gets_a_clear_message(owner_client, team):
    body = upload(owner_client, team, "job,task\nA,Café\n".encode("cp1252")).content.decode()
    assert "not UTF-8 text" in body and "Nothing was imported" in body


def test_an_oversize_file_is_refused(owner_client, team, settings):
    settings.IMPORT_MAX_BYTES = 100
    body = upload(owner_client, team, GOOD * 10).content.decode()
    assert "the largest accepted is" in body
    assert not Task.objects.exists()


def test_a_missing_file_is_explained(owner_client, team):
    assert "Choose a CSV or XLSX file" in owner_client.post(url(team), {}).content.decode()


def test_an_xlsx_upload_previews_and_imports(owner_client, team):
    workbook = openpyxl.Workbook()
    workbook.active.append(["Job", "Task", "Hours per week"])
    workbook.active.append(["Analyst", "Read reports", 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    token = token_of(upload(owner_client, team, buffer.getvalue(), "tasks.xlsx"))
    owner_client.post(url(team), {"token": token})
    assert Task.objects.get(job__team=team).hours_per_week == 3


def test_existing_jobs_are_reused_and_their_figures_kept(owner_client, team):
    job = make_job(team, "Support agent", headcount=4, hourly_cost="30")
    body = upload(owner_client, team, GOOD).content.decode()
    assert "keeps its headcount 4 (the file says 10, row 2)" in body
    owner_client.post(url(team), {"token": token_of(upload(owner_client, team, GOOD))})
    job.refresh_from_db()
    assert job.headcount == 4 and job.tasks.count() == 1


def test_htmx_upload_renders_only_the_result_fragment(owner_client, team):
    response = upload(owner_client, team, GOOD, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="import-result"')
    assert "<html" not in body


def test_htmx_confirm_redirects_the_client(owner_client, team):
    token = token_of(upload(owner_client, team, GOOD))
    response = owner_client.post(url(team), {"token": token}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("portfolio", args=[team.slug])


def test_user_text_in_the_preview_is_escaped(owner_client, team):
    data = b"job,task\n<b>Boss</b>,<script>alert(1)</script>\n"
    body = upload(owner_client, team, data).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
