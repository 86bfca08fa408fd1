"""Files on requests: typed by their bytes, limited, served only as downloads and only to those
who may see the request — from the desk's page, the requester's link, and mail."""

from __future__ import annotations

import io
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from dutydesk.core.config import Settings
from dutydesk.core.db import Database, utcnow
from dutydesk.core.mailin.intake import process_raw
from dutydesk.core.models.accounts import Role
from dutydesk.jobs import mail_handlers
from dutydesk.requests import service as req
from dutydesk.requests.attachments import (
    MAX_FILE_BYTES,
    AttachmentRefused,
    add_attachment,
    attachments_of,
    sniff,
)
from dutydesk.requests.mail import requester_token
from dutydesk.requests.models import RequestEventRow, ServiceRequest
from tests.conftest import form_token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


@pytest.mark.parametrize(("data", "name", "expected"), [
    (b"%PDF-1.7 ...", "invoice.exe", "application/pdf"),  # the bytes decide, not the name
    (PNG, "screenshot.txt", "image/png"),
    (b"\xff\xd8\xff\xe0 jpeg", "photo.jpg", "image/jpeg"),
    (b"PK\x03\x04 docx", "report.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"PK\x03\x04 zip", "logs.zip", "application/zip"),
    (b"error: disk full\n", "log.txt", "text/plain"),
    ("ошибка: диск\n".encode(), "log.txt", "text/plain"),
    (b"a,b\n1,2\n", "data.csv", "text/csv"),
    (b"<html><script>alert(1)</script>", "page.html", "application/octet-stream"),
    (b"<svg onload=alert(1)>", "logo.svg", "application/octet-stream"),
    (b"\x00\x01\x02binary", "blob.bin", "application/octet-stream"),
])
def test_the_type_is_sniffed_from_the_bytes(data: bytes, name: str, expected: str) -> None:
    assert sniff(data, name) == expected


@pytest.mark.parametrize("data", [b"MZ\x90\x00 windows program", b"\x7fELF linux program",
                                  b"#!/bin/sh\nrm -rf /"])
def test_programs_and_scripts_are_refused(data: bytes) -> None:
    with pytest.raises(AttachmentRefused, match="program or script"):
        sniff(data, "tool.pdf")


def new_request(db: Database, settings: Settings, email: str = "anna@corp.example") -> int:
    with db.session() as s:
        return req.create_request(s, settings, email, req.Requester(email, "Anna"),
                                  service="mail", description="broken", now=utcnow()).id


def test_a_file_over_the_size_limit_stores_nothing(db: Database, settings: Settings) -> None:
    request_id = new_request(db, settings)
    with db.session() as s, pytest.raises(AttachmentRefused, match="at most 10 MB"):
        add_attachment(s, request_id, "huge.bin", b"x" * (MAX_FILE_BYTES + 1), source="web",
                       actor="olga", now=utcnow())
    with db.session() as s:
        assert attachments_of(s, request_id) == []


def test_the_desk_attaches_and_downloads_a_file_as_an_attachment_never_rendered(
        signed_in: Any, db: Database, settings: Settings) -> None:
    request_id = new_request(db, settings)
    engineer = signed_in(Role.ENGINEER)
    page = f"/requests/{request_id}"
    token = form_token(engineer, page)
    answer = engineer.post(f"{page}/attachments", data={
        "csrf_token": token, "file": (io.BytesIO(b"<html><script>x</script>"), "evil.html")},
        content_type="multipart/form-data")
    assert answer.status_code == 302
    html = engineer.get(page).get_data(as_text=True)
    assert "evil.html" in html and "application/octet-stream" in html
    with db.session() as s:
        [info] = attachments_of(s, request_id)
    download = engineer.get(f"{page}/attachments/{info.id}")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith('attachment; filename="evil.html"')
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert engineer.get(f"/requests/{request_id + 1}/attachments/{info.id}").status_code == 404


def test_a_program_upload_is_refused_with_the_reason(
        signed_in: Any, db: Database, settings: Settings) -> None:
    request_id = new_request(db, settings)
    engineer = signed_in(Role.ENGINEER)
    token = form_token(engineer, f"/requests/{request_id}")
    answer = engineer.post(f"/requests/{request_id}/attachments", data={
        "csrf_token": token, "file": (io.BytesIO(b"MZ\x90\x00"), "setup.pdf")},
        content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "program or script" in answer.get_data(as_text=True)


def test_viewers_and_strangers_cannot_download(
        signed_in: Any, client: Any, db: Database, settings: Settings) -> None:
    request_id = new_request(db, settings)
    with db.session() as s:
        file_id = add_attachment(s, request_id, "a.png", PNG, source="web",
                                 actor="anna@corp.example", now=utcnow()).id
    url = f"/requests/{request_id}/attachments/{file_id}"
    assert client.get(url).status_code in (302, 401)
    assert signed_in(Role.VIEWER).get(url).status_code == 403
    own = f"/help/my/{requester_token(settings.secret_key, 'anna@corp.example')}"
    other = f"/help/my/{requester_token(settings.secret_key, 'boris@corp.example')}"
    assert client.get(f"{own}/{request_id}/files/{file_id}").status_code == 200
    assert "a.png" in client.get(f"{own}/{request_id}").get_data(as_text=True)
    assert client.get(f"{other}/{request_id}/files/{file_id}").status_code == 404


def test_a_mailed_attachment_is_stored_and_a_refused_one_is_noted(
        db: Database, settings: Settings) -> None:
    msg = EmailMessage()
    msg["From"] = "Anna <anna@corp.example>"
    msg["Subject"] = "Printer error"
    msg["Message-ID"] = "<att@corp.example>"
    msg.set_content("See the screenshot")
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="screen.png")
    msg.add_attachment(b"MZ\x90\x00", maintype="application", subtype="pdf",
                       filename="driver.pdf")
    outcome = process_raw(db, msg.as_bytes(), mail_handlers(settings), utcnow())
    assert outcome.status == "handled"
    with db.session() as s:
        row = s.scalars(select(ServiceRequest)).one()
        files = attachments_of(s, row.id)
        note = s.scalars(select(RequestEventRow.data).where(
            RequestEventRow.kind == "note")).one()["text"]
    assert [(f.filename, f.content_type, f.source) for f in files] == [
        ("screen.png", "image/png", "email")]
    assert "driver.pdf" in note and "program or script" in note



def test_an_employee_sends_a_screenshot_with_the_help_form_and_a_program_is_refused(
        client: Any, db: Database, settings: Settings) -> None:
    from shifts.notices import service as notices

    with db.session() as s:
        notices.save_service(s, "admin", slug="mail", name="Mail", now=utcnow())
    page = f"/help/my/{requester_token(settings.secret_key, 'anna@corp.example')}"
    token = form_token(client, page)
    refused = client.post(page, data={
        "service": "mail", "description": "Outlook is offline", "csrf_token": token,
        "attachment": (io.BytesIO(b"MZ\x90\x00"), "fix.exe")},
        content_type="multipart/form-data")
    assert refused.status_code == 400 and "program or script" in refused.get_data(as_text=True)
    with db.session() as s:
        assert s.scalars(select(ServiceRequest)).all() == []
    sent = client.post(page, data={
        "service": "mail", "description": "Outlook is offline", "csrf_token": token,
        "attachment": (io.BytesIO(PNG), "screen.png")}, content_type="multipart/form-data")
    assert sent.status_code == 302
    with db.session() as s:
        row = s.scalars(select(ServiceRequest)).one()
        [file] = attachments_of(s, row.id)
    assert (file.filename, file.content_type, file.added_by) == (
        "screen.png", "image/png", "anna@corp.example")
    assert "screen.png" in client.get(f"{page}/{row.id}").get_data(as_text=True)
