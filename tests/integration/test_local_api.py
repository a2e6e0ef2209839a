"""User story: with `make up API=local` I change handlers/ and see it on the next request,
and the in-process API answers exactly as the deployed one does, its sign-in check included."""

from __future__ import annotations

import pytest
import requests

from bootstrap.local import free_port, start_devserver, stop_pid

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_api(stack):
    port = free_port()
    proc = start_devserver(port, stack.state, stack.state / "logs" / "devserver-local.log", local_api=True)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        stop_pid(proc.pid)


CASES = [
    ("POST", "/uploads", {"data": "not json"}),
    ("POST", "/uploads", {"json": {"filename": "a.svg", "contentType": "image/svg+xml", "size": 5}}),
    ("POST", "/uploads", {"json": {"filename": "a.jpg", "contentType": "image/jpeg", "size": 10**9}}),
    ("GET", "/images", {"params": {"limit": "0"}}),
    ("GET", "/images", {"params": {"cursor": "nope"}}),
    ("GET", "/images/" + "0" * 32, {}),
    ("DELETE", "/images/" + "0" * 32, {}),
    ("GET", "/images", {"params": {"scope": "all"}}),  # not an admin: 403
    ("GET", "/no/such/route", {}),
    ("PUT", "/uploads", {}),
    ("OPTIONS", "/uploads", {"headers": {"Origin": "ORIGIN", "Access-Control-Request-Method": "POST"}}),
    ("GET", "/images", {"token": None}),  # signed out: 401 from the authorizer
    ("GET", "/images", {"token": "forged"}),
]
COMPARED_HEADERS = ("Content-Type", "Allow", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods")


@pytest.mark.parametrize("method, path, kwargs", CASES, ids=[f"{m} {p}" for m, p, _ in CASES])
def test_in_process_and_deployed_api_answer_alike(stack, local_api, method, path, kwargs):
    kwargs = dict(kwargs)
    headers = dict(kwargs.pop("headers", {}))
    if headers.get("Origin") == "ORIGIN":
        headers["Origin"] = stack.site_url
    token = kwargs.pop("token", stack.http.headers["Authorization"])
    if token == "forged":  # the tester's token with another signature
        real = stack.http.headers["Authorization"]
        token = real.rsplit(".", 1)[0] + "." + real.rsplit(".", 1)[1][::-1]
    if token:
        headers["Authorization"] = token
    kwargs["headers"] = headers
    deployed = requests.request(method, stack.api + path, **kwargs)
    local = requests.request(method, local_api + path, **kwargs)
    assert local.status_code == deployed.status_code
    assert local.content == deployed.content
    for header in COMPARED_HEADERS:
        assert local.headers.get(header) == deployed.headers.get(header), header


def test_in_process_api_serves_the_whole_flow(stack, local_api):
    """An upload created through the in-process API is processed by the deployed stack."""
    from tests.images import phone_jpeg

    data = phone_jpeg(600, 400)
    created = stack.http.post(
        f"{local_api}/uploads", json={"filename": "local.jpg", "contentType": "image/jpeg", "size": len(data)}
    ).json()
    posted = stack.post_file(created["upload"], data, "image/jpeg")
    assert posted.status_code in (200, 204), posted.text
    image = stack.wait_final(created["id"])
    assert image["status"] == "processed"
    assert stack.http.get(f"{local_api}/images/{created['id']}").json()["status"] == "processed"


def test_a_change_to_handlers_shows_on_the_next_request(stack, tmp_path):
    """The reloader, on a copy of the code: edit handlers/api.py, ask again, see the edit."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    from bootstrap.local import wait_until
    from bootstrap.package import ROOT

    for folder in ("handlers", "devserver", "frontend", "bootstrap"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--port", str(port), "--local-api", "--reload"],
        cwd=tmp_path,
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(f"{base}/healthz", 30, "the devserver", proc)
        assert stack.http.get(f"{base}/api/nope").json()["error"]["message"] == "No route GET /nope."
        api_py = tmp_path / "handlers" / "api.py"
        api_py.write_text(api_py.read_text().replace('f"No route {method} {path}."', 'f"Nothing at {path}."'))
        deadline = time.monotonic() + 30
        while True:
            try:
                if stack.http.get(f"{base}/api/nope").json()["error"]["message"] == "Nothing at /nope.":
                    break
            except requests.ConnectionError:
                pass  # restarting
            assert time.monotonic() < deadline, "the edit never showed"
            time.sleep(0.5)
    finally:
        stop_pid(proc.pid)
