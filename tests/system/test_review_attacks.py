"""What an outside security review found, each attack replayed through gunicorn in production mode.

On SQLite, and the race on PostgreSQL too when SPEAKUP_TEST_DATABASE_URL is set (a database named after it with
``_review`` added, wiped)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.factories import phone_photo, png_bomb
from support.present import found
from support.servers import (
    Answer,
    Browser,
    Server,
    Staff,
    create_guardian,
    fresh_postgres_database,
    init_installation,
    production_env,
    start_gunicorn,
)

from speakup.crypto import totp

SIGN_IN_FAILED = "Enter a correct email address, password and security code"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("SPEAKUP_TEST_DATABASE_URL") else [])


@dataclass
class Service:
    server: Server
    guardians: tuple[Staff, Staff]
    env: dict[str, str]
    key_file: Path

    def browser(self, label: str) -> Browser:
        return Browser(self.server.base_url, f"review-{label}")


def _start(tmp_path: Path, url: str, **settings: str) -> Iterator[Service]:
    # An Argon2id that takes a noticeable moment, as in production, so requests overlap while they wait for it.
    env = production_env(url, workers="2", threads="4", argon2_memory_kib="16384", argon2_iterations="2", **settings)
    key_file = init_installation(env, tmp_path / "recovery-key.txt")
    guardians = (
        create_guardian(env, "gita@example.org", "Gita Guardian", key_file),
        create_guardian(env, "bea@example.org", "Bea Guardian", key_file),
    )
    server = start_gunicorn(env, tmp_path)
    try:
        yield Service(server, guardians, env, key_file)
    finally:
        server.stop()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    yield from _start(tmp_path, f"sqlite:///{tmp_path / 'speakup.sqlite'}")


@pytest.fixture(params=BACKENDS)
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    sqlite = f"sqlite:///{tmp_path / 'speakup.sqlite'}"
    url = sqlite if request.param == "sqlite" else fresh_postgres_database("_review")
    yield from _start(tmp_path, url)


def _path(answer: Answer) -> str:
    """The path of the page an answer came from, after the redirects urllib followed."""
    return urlsplit(answer.url).path


def _token(browser: Browser) -> str:
    """A form's token from a page of its own (every token is good for one post)."""
    return browser.get("/guardian/").csrf()


def _sign_in_with(browser: Browser, staff: Staff, code: str) -> Answer:
    form = browser.get("/guardian/sign-in")
    return browser.post("/guardian/sign-in", form={
        "csrf_token": form.csrf(), "email": staff.email, "password": staff.password, "security_code": code,
    })  # fmt: skip


# --- 4. One security code, four sign-ins at once ----------------------------------------------------------------


def test_one_security_code_signs_in_once_however_many_try_it_at_once(any_database: Service):
    gita = any_database.guardians[0]
    browsers = [any_database.browser(f"race-{n}") for n in range(4)]
    forms = [browser.get("/guardian/sign-in") for browser in browsers]
    # One code, from the middle of its 30-second step, so every attempt falls in the same step.
    while time.time() % 30 > 20:
        time.sleep(1)
    code = totp.totp_now(gita.totp_secret, time.time())
    answers: list[Answer] = []
    start = threading.Barrier(len(browsers))

    def attempt(browser: Browser, form: Answer) -> None:
        start.wait()
        answers.append(browser.post("/guardian/sign-in", form={
            "csrf_token": form.csrf(), "email": gita.email, "password": gita.password, "security_code": code,
        }))  # fmt: skip

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(browsers, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Every answer is a 303: to the queue, or back to the sign-in page with the one message for every failure.
    signed_in = [a for a in answers if a.status == 200 and _path(a) == "/guardian/"]
    refused = [a for a in answers if a.status == 200 and _path(a) == "/guardian/sign-in" and SIGN_IN_FAILED in a.text]
    assert (len(signed_in), len(refused)) == (1, 3), [(a.status, _path(a)) for a in answers]
    assert not [a for a in answers if gita.password in a.text or code in a.text]


# --- 5. gunicorn's error log -------------------------------------------------------------------------------------


def test_a_malformed_request_leaves_no_address_or_request_in_the_error_log(service: Service):
    host, port = service.server.base_url.removeprefix("http://").split(":")
    marker = "GARBAGE-7f3a-code-ABCD-EFGH"
    for garbage in (
        f"GET /follow-up?{marker} HTTP/9.9\r\n\r\n",
        f"\x00\x01\x02 {marker}\r\n\r\n",
        f"POST /raise HTTP/1.1\r\nHost: x\r\nBad Header {marker}\r\n\r\n",
    ):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(garbage.encode("latin-1"))
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    time.sleep(0.5)  # let gunicorn write its lines
    error_log = service.server.error_log.read_text(errors="replace")
    assert "Invalid request refused (client address and request not logged)" in error_log
    client_lines = [line for line in error_log.splitlines() if "Listening at" not in line]  # the bind address
    assert not [line for line in client_lines if "ip=" in line or "127.0.0.1" in line]
    assert marker not in error_log and "GARBAGE" not in error_log
    access_log = service.server.access_log.read_text(errors="replace")
    assert marker not in access_log and "127.0.0.1" not in access_log
    # The service still answers.
    assert service.browser("after").get("/").status == 200


# --- 7. Deeply nested JSON ---------------------------------------------------------------------------------------


def test_deeply_nested_json_gets_a_json_error_not_a_crash(service: Service):
    browser = service.browser("nested")
    for body in ("[" * 100_000, '{"what_happened":' * 50_000):
        answer = browser.post("/api/v1/concerns", raw=(body.encode(), "application/json"))
        assert answer.status == 400, answer.text[:200]
        assert answer.json()["error"]["message"] == "The body is nested too deeply to read."
    assert browser.post("/api/v1/concerns", json_body={"what_happened": "Fine", "anonymity": "anonymous"}).status == 201


# --- 8. Existence oracle -----------------------------------------------------------------------------------------


def _comparable(answer: Answer) -> tuple[int, str]:
    text = re.sub(r'name="(csrf|language)_token" value="[^"]+"', "", answer.text)  # the page's form token, twice
    # The time-out's countdown moves on between two requests a second apart: not a difference between references.
    text = re.sub(r'data-[a-z-]*seconds-left="\d+"', "", text)
    return answer.status, re.sub(r"SU-[0-9A-Z]{8}", "SU-XXXXXXXX", text)


def test_a_guardian_without_a_grant_cannot_tell_a_real_reference_from_a_missing_one(service: Service):
    reporter = service.browser("reporter")
    raised = reporter.post("/api/v1/concerns", json_body={"what_happened": "Real case", "anonymity": "anonymous"})
    reference = raised.json()["reference"]
    # A guardian approved after the concern was raised holds no key for it.
    late = create_guardian(service.env, "late@example.org", "Lee Late", service.key_file)
    bea = service.browser("late")
    assert _sign_in_with(bea, late, totp.totp_now(late.totp_secret, time.time())).status == 200
    missing = "SU-ZZZZZZZZ"
    pairs = [(bea.get(f"/guardian/cases/{ref}"), ref) for ref in (reference, missing)]
    pairs += [(bea.get(f"/guardian/cases/{ref}/attachments/{'0' * 32}"), ref) for ref in (reference, missing)]
    posts = (("messages", "body"), ("status", "status"), ("close", "outcome"), ("assign", "assignee"),
             ("details", "themes"), ("notes", "note"), ("share", "share_with"))  # fmt: skip
    for action, field in posts:  # each form with a token of its own: a token is good for one post
        pairs += [(bea.post(f"/guardian/cases/{ref}/{action}", form={"csrf_token": _token(bea), field: "x"}), ref)
                  for ref in (reference, missing)]  # fmt: skip
    for first, second in zip(pairs[::2], pairs[1::2], strict=True):
        assert _comparable(first[0]) == _comparable(second[0]), (first[1], second[1], first[0].url)
    assert all(answer.status == 403 for answer, _ref in pairs if "Real case" not in answer.text)


# --- 1. Image bombs ----------------------------------------------------------------------------------------------


def _multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes, mimetype: str) -> tuple[bytes, str]:
    boundary = "----speakup-test-" + os.urandom(8).hex()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: {mimetype}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _worker_peaks_mib(master_pid: int) -> list[float]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(found(r"VmHWM:\s+(\d+) kB", status)) / 1024)
    return peaks


def _raise_with_files_at_once(service: Service, count: int, filename: str, data: bytes, mimetype: str) -> list[Answer]:
    """``count`` reporters send the raise form with the same file at the same moment."""
    results: list[Answer] = []
    start = threading.Barrier(count)

    def upload(n: int) -> None:
        browser = service.browser(f"upload-{filename}-{n}")
        form = browser.get("/raise")
        body = _multipart(
            {"csrf_token": form.csrf(), "what_happened": f"Upload {n}", "anonymity": "anonymous"},
            "attachment", filename, data, mimetype,
        )  # fmt: skip
        start.wait()
        results.append(browser.post("/raise", raw=body))

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_four_image_bombs_at_once_keep_every_worker_small(service: Service):
    bomb = png_bomb(7000, 7000)  # about 200 KB that would decode to 187 MiB
    assert len(bomb) < 250_000
    results = _raise_with_files_at_once(service, 4, "photo.png", bomb, "image/png")
    # Refused: each redirected back to the form, which shows the message and keeps the words they typed.
    assert [(answer.status, _path(answer)) for answer in results] == [(200, "/raise")] * 4
    assert all("The picture is too large (7000 × 7000 pixels)" in answer.text for answer in results)
    assert all("Upload" in answer.text for answer in results)  # the words they typed are kept
    peaks = _worker_peaks_mib(service.server.process.pid)
    assert peaks and max(peaks) < 300, peaks
    # Four real 12-megapixel photos at once are accepted and cleaned, one decode per worker at a time.
    results = _raise_with_files_at_once(service, 4, "IMG_0001.jpg", phone_photo(), "image/jpeg")
    assert [(answer.status, _path(answer)) for answer in results] == [(200, "/raise/sent")] * 4, [
        (a.status, _path(a)) for a in results
    ]
    peaks = _worker_peaks_mib(service.server.process.pid)
    assert max(peaks) < 300, peaks


# --- 2. A PDF bomb -----------------------------------------------------------------------------------------------


def _pdf_bomb(mib: int) -> bytes:
    import io
    import zlib

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    packer = zlib.compressobj(9)
    raw = b"".join(packer.compress(b"\x00" * 2**20) for _ in range(mib)) + packer.flush()
    stream = pikepdf.Stream(pdf, raw)
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.Root.Bomb = pdf.make_indirect(stream)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def test_a_pdf_that_unpacks_to_a_gibibyte_is_refused_and_costs_the_worker_nothing(service: Service):
    bomb = _pdf_bomb(1024)
    assert len(bomb) < 2 * 2**20
    browser = service.browser("pdf-bomb")
    form = browser.get("/raise")
    body, content_type = _multipart(
        {"csrf_token": form.csrf(), "what_happened": "Rota attached", "anonymity": "anonymous"},
        "attachment", "rota.pdf", bomb, "application/pdf",
    )  # fmt: skip
    answer = browser.post("/raise", raw=(body, content_type))
    assert answer.status == 200 and _path(answer) == "/raise", (answer.status, _path(answer))
    assert "it unpacks to far more than its size" in answer.text
    assert "Rota attached" in answer.text
    assert max(_worker_peaks_mib(service.server.process.pid)) < 300
