"""The embedded target's processes: the MiniStack emulator and the devserver.

python -m bootstrap.local up     start what is not running, deploy, wait until it answers
python -m bootstrap.local down   stop both (the emulator saves its state on the way out)
python -m bootstrap.local status

BACKEND=embedded|localstack|auto (default auto): LocalStack through docker-compose.yml
when a Docker engine answers a real ping, the embedded MiniStack otherwise.

The emulator runs from its own virtualenv (.venv-emulator: MiniStack pins botocore),
bound to 127.0.0.1 only, with its state under .stack/emulator so the gallery survives
`make down` / `make up`. Tests use the same functions with a free port and a temp folder.
Its root key is the stack's own, made on the first start (stack_credentials): MiniStack's public
default (`test`/`test`) is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bootstrap.package import ROOT

EMULATOR_PYTHON = Path(os.environ.get("EMULATOR_PYTHON", ROOT / ".venv-emulator" / "bin" / "python"))


@dataclass(frozen=True)
class Process:
    name: str
    pid_file: Path
    log_file: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status < 500
    except (urllib.error.URLError, OSError):
        return False


def wait_until(url: str, seconds: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(url):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before answering")
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer at {url} within {seconds:.0f} s")


def emulator_scratch(state: Path) -> Path:
    """The emulator's TMPDIR. It unpacks each execution environment's code there (tens of MB
    each) and leaves them behind when it is stopped or a worker fails; kept under the state
    directory, they go with it instead of filling the machine's /tmp."""
    return state / "tmp"


def credentials_file(state: Path) -> Path:
    """Where the stack whose state directory is `state` keeps its emulator's root key."""
    return state / "credentials.json"


KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # an AWS access key id's
SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"  # no shell quoting needed


def stack_credentials(state: Path) -> tuple[str, str]:
    """(access key id, secret) of the stack whose state directory is `state` (IMAGEPIPE_STATE_DIR:
    .stack/ for `make up`, a temp folder per test stack): made on first use, then read, so a
    stack keeps its key across restarts. Its emulator takes it as its root key; everything that
    talks to the stack signs with it. Kept as `aws configure export-credentials --format process`
    prints credentials, in a file only its owner may read (0600), written at once or not at all;
    two first uses at the same time agree on the first one written."""
    path = credentials_file(state)
    if not path.exists():
        state.mkdir(parents=True, exist_ok=True)
        made = {
            "Version": 1,
            "AccessKeyId": "AKIA" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(16)),
            "SecretAccessKey": "".join(secrets.choice(SECRET_ALPHABET) for _ in range(40)),
        }
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(made, indent=2) + "\n")
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(draft, path)  # never replaces: the first one written wins
            except FileExistsError:
                pass
        finally:
            draft.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    kept = json.loads(path.read_text())
    return kept["AccessKeyId"], kept["SecretAccessKey"]


def emulator_env(port: int, state: Path) -> dict:
    """MiniStack's settings. `state` is the emulator's own folder, `<the stack's state>/emulator`."""
    key, secret = stack_credentials(state.parent)
    inherited = {k: v for k, v in os.environ.items() if k != "AWS_SESSION_TOKEN"}  # a root token: none
    return {
        **inherited,
        # Its root key. It takes `test` and any 12-digit key as root too, and checks the
        # signature of none (bootstrap/emulator_auth.py makes it, against this secret).
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "TMPDIR": str(emulator_scratch(state)),
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",  # otherwise it listens on every interface
        "IOT_MTLS_ENABLED": "0",  # otherwise it also opens 8883
        # Verify signatures and enforce IAM: buckets are really private, and each function
        # runs with its role's credentials, so a policy missing an action fails the tests.
        "AUTH": "true",
        "PERSIST_STATE": "1",
        "STATE_DIR": str(state),
        "S3_PERSIST": "1",
        "S3_DATA_DIR": str(state / "s3"),
        "LOG_LEVEL": os.environ.get("EMULATOR_LOG_LEVEL", "INFO"),
        "MINISTACK_REGION": "us-east-1",
    }


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the process that started it dies (Linux)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def running_marker(state: Path) -> Path:
    """Present while an emulator runs on this state; left behind by one that did not stop cleanly
    (crash, SIGKILL, power cut): MiniStack saves its state only on a clean stop, so whatever it
    held since its last clean start (records, users, functions) is gone, and S3, written at
    once, has to be reconciled with."""
    return state / "RUNNING"


def crashed_before(state: Path) -> bool:
    return running_marker(state).exists()


def start_emulator(port: int, state: Path, log_file: Path, die_with_parent: bool = False) -> subprocess.Popen:
    """Start MiniStack in the background and return once it answers. `die_with_parent` is for
    tests and benches: a run killed abruptly (SIGKILL, a CI timeout) takes its emulator with it.
    `make up` leaves it off: its emulator outlives the command by design."""
    if not EMULATOR_PYTHON.exists():
        raise RuntimeError(f"{EMULATOR_PYTHON} is missing: run `make emulator-venv`")
    state.mkdir(parents=True, exist_ok=True)
    running_marker(state).write_text("the emulator is running; removed when it stops cleanly\n")
    shutil.rmtree(emulator_scratch(state), ignore_errors=True)  # what a killed run left
    emulator_scratch(state).mkdir()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(EMULATOR_PYTHON), str(ROOT / "bootstrap" / "emulator.py")],  # MiniStack, its scratch kept bounded
        env=emulator_env(port, state),
        stdout=log_file.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopping it stops its Lambda workers too
        cwd=state,
        preexec_fn=_die_with_parent if die_with_parent and sys.platform == "linux" else None,
    )
    wait_until(f"http://127.0.0.1:{port}/_ministack/health", 60, "the emulator", proc)
    return proc


def stop_emulator(
    pid: int, state: Path, log=lambda msg: print(msg, flush=True), patience: float = 600, hang: float = 60
) -> bool:
    """Stop MiniStack and wait for it to save its state, however long that takes: it writes
    each service's JSON as it goes, so it is killed only once nothing has been written for
    `hang` seconds (or after `patience`), and then it says so loudly. True if it stopped cleanly."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    started = time.monotonic()
    last_write = started
    said = started
    while _alive(pid):
        newest = max((f.stat().st_mtime for f in state.glob("*.json*") if f.is_file()), default=0.0)
        if newest > time.time() - 1:
            last_write = time.monotonic()
        now = time.monotonic()
        if now - last_write > hang or now - started > patience:
            os.killpg(pid, signal.SIGKILL)
            log(
                f"WARNING: the emulator did not finish saving its state ({now - started:.0f} s, nothing written"
                f" for {now - last_write:.0f} s) and was killed: what it held since its last clean stop may be"
                f" lost. The next `make up` rebuilds the images from S3 (`make reconcile`)."
            )
            return False
        if now - said > 5:
            log(f"emulator: saving its state ({now - started:.0f} s)")
            said = now
        time.sleep(0.2)
    running_marker(state).unlink(missing_ok=True)
    shutil.rmtree(emulator_scratch(state), ignore_errors=True)
    return True


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our child, now reaped
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid: int, seconds: float = 20) -> None:
    """SIGTERM the process group (the emulator saves state on SIGTERM), then SIGKILL if it lingers."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # reap it if it is our child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_devserver(
    port: int, state: Path, log_file: Path, local_api: bool = False, extra_env: dict | None = None
) -> subprocess.Popen:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    args = ["--local-api", "--reload"] if local_api else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "devserver", "--port", str(port), *args],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(state), **(extra_env or {})},
        stdout=log_file.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )
    wait_until(f"http://127.0.0.1:{port}/healthz", 30, "the devserver", proc)
    return proc


# --- make up / make down ---------------------------------------------------

STATE = Path(os.environ.get("IMAGEPIPE_STATE_DIR", ROOT / ".stack"))
EMULATOR_PORT = int(os.environ.get("EMULATOR_PORT", "4566"))
SITE_PORT = int(os.environ.get("DEVSERVER_PORT", "8080"))
LOCAL_API = os.environ.get("API", "") == "local"


def docker_engine_answers() -> bool:
    """A real ping of the Docker engine (the client alone proves nothing)."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def choose_backend(requested: str) -> tuple[str, str]:
    """(backend, why) for BACKEND=embedded|localstack|auto."""
    if requested in ("embedded", "localstack"):
        return requested, f"BACKEND={requested}"
    if requested not in ("", "auto"):
        raise SystemExit(f"BACKEND must be embedded, localstack or auto, not {requested!r}")
    if docker_engine_answers():
        return "localstack", "a Docker engine answers"
    return "embedded", "no Docker engine answers"


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up() -> int:
    backend, why = choose_backend(os.environ.get("BACKEND", "auto"))
    print(f"backend: {backend} ({why})", flush=True)
    STATE.mkdir(parents=True, exist_ok=True)
    code = up_localstack() if backend == "localstack" else up_embedded()
    if code == 0:
        (STATE / "backend").write_text(backend)  # what `make down` stops
    return code


def up_localstack() -> int:
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if not docker_engine_answers():
        log("BACKEND=localstack needs a Docker engine, and none answers (`docker info` fails).")
        log("Start Docker, or use the embedded emulator: `make up BACKEND=embedded`.")
        return 2
    endpoint = "http://127.0.0.1:4566"
    log("localstack: docker compose up (LocalStack 4.14.0 and the devserver), waiting until healthy")
    subprocess.run(["docker", "compose", "up", "-d", "--build", "--wait"], cwd=ROOT, check=True)
    # Presigned URLs must name a host the browser reaches, not the container's name.
    outputs = _deploy("localstack", endpoint, PUBLIC_S3_ENDPOINT=endpoint)
    wait_until(f"http://127.0.0.1:{SITE_PORT}/healthz", 60, "the devserver container")
    _print_urls(outputs["apiUrl"], f"LocalStack: {endpoint}")
    return 0


def deploy_into(target: str, state: Path, env: dict) -> dict:
    """`python -m bootstrap deploy` with its outputs in `state`; for `make up` and the tests alike.
    Its progress goes to this process's stderr; a failure raises with what it said."""
    deployed = subprocess.run(
        [sys.executable, "-m", "bootstrap", "deploy", "--target", target],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(state), **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if deployed.returncode != 0:
        raise RuntimeError(f"deploy failed:\n{deployed.stderr}")
    return json.loads((state / "outputs.json").read_text())


def _deploy(target: str, endpoint: str, **extra: str) -> dict:
    print("stack: deploying (idempotent)", flush=True)
    return deploy_into(
        target, STATE, {"AWS_ENDPOINT_URL": endpoint, "SITE_URL": f"http://127.0.0.1:{SITE_PORT}", **extra}
    )


def reconcile_after_crash(endpoint: str, state: Path | None = None) -> None:
    """`python -m bootstrap reconcile` against the local stack, its progress on the terminal. Here,
    not on the batch state machine: a crash may have cost the emulator's workflows (what it lost
    since its last checkpoint), and a laptop's gallery is small."""
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "IMAGEPIPE_STATE_DIR": str(state or STATE)}
    command = [sys.executable, "-m", "bootstrap", "reconcile", "--target", "embedded", "--local"]
    subprocess.run(command, env=env, check=True, cwd=ROOT)


def _print_urls(api: str, endpoint: str) -> None:
    print(
        f"\n  Site:  http://127.0.0.1:{SITE_PORT}/\n  API:   {api}\n  AWS endpoint ({endpoint})\n"
        "  Sign in: create an account on the page (confirmed at once here), or\n"
        "           `make user EMAIL=you@example.com` (ADMIN=1 for a moderator) prints a password.\n"
        "  Stop with `make down`; logs in .stack/logs/.",
        flush=True,
    )


def signs_in(endpoint: str, credentials: tuple[str, str]) -> bool:
    """Whether the emulator at `endpoint` takes these credentials (STS GetCallerIdentity, which
    any valid key may call)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    key, secret = credentials
    sts = boto3.client(
        "sts", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret
    )
    try:
        sts.get_caller_identity()
    except (ClientError, BotoCoreError):
        return False
    return True


def up_embedded() -> int:
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    emulator_url = f"http://127.0.0.1:{EMULATOR_PORT}"
    crashed = False
    if answers(f"{emulator_url}/_ministack/health"):
        log(f"emulator: already answering on {emulator_url}")
        if not signs_in(emulator_url, stack_credentials(STATE)):
            log(
                f"emulator: the one on {emulator_url} refuses this stack's key ({credentials_file(STATE)}): it"
                " was started before stacks had their own key, or for another stack. `make down`, then `make up`."
            )
            return 2
    else:
        crashed = crashed_before(STATE / "emulator")
        if crashed:
            log("emulator: the last one did not stop cleanly; the stack is redeployed and its images rebuilt from S3")
        log(f"emulator: starting MiniStack on {emulator_url} (state in {STATE / 'emulator'})")
        proc = start_emulator(EMULATOR_PORT, STATE / "emulator", STATE / "logs" / "emulator.log")
        (STATE / "emulator.pid").write_text(str(proc.pid))
    outputs = _deploy("embedded", emulator_url)
    if crashed:
        reconcile_after_crash(emulator_url)
    site = f"http://127.0.0.1:{SITE_PORT}"
    running = _pid(STATE / "devserver.pid")
    if running and answers(f"{site}/healthz"):
        serving_local = json.loads(urllib.request.urlopen(f"{site}/healthz", timeout=2).read()).get("localApi")
        if serving_local != LOCAL_API:
            log("devserver: restarting to " + ("serve the API in-process" if LOCAL_API else "use the deployed API"))
            stop_pid(running)
    if answers(f"{site}/healthz"):
        log(f"devserver: already answering on {site}")
    else:
        log(f"devserver: starting on {site}" + (" with the API in-process (API=local, reloading)" if LOCAL_API else ""))
        proc = start_devserver(SITE_PORT, STATE, STATE / "logs" / "devserver.log", local_api=LOCAL_API)
        (STATE / "devserver.pid").write_text(str(proc.pid))
    api = f"{site}/api (in-process: handlers/ changes show on the next request)" if LOCAL_API else outputs["apiUrl"]
    _print_urls(api, f"embedded emulator: {emulator_url}")
    return 0


def down() -> int:
    if (STATE / "backend").exists() and (STATE / "backend").read_text() == "localstack":
        print("localstack: docker compose down", flush=True)
        subprocess.run(["docker", "compose", "down"], cwd=ROOT, check=False)
        (STATE / "backend").unlink()
        return 0
    for name in ("devserver", "emulator"):
        pid_file = STATE / f"{name}.pid"
        pid = _pid(pid_file)
        if pid:
            print(f"{name}: stopping (pid {pid})", flush=True)
            if name == "emulator":
                stop_emulator(pid, STATE / "emulator")
            else:
                stop_pid(pid)
        else:
            print(f"{name}: not running", flush=True)
        pid_file.unlink(missing_ok=True)
    return 0


def status() -> int:
    for name in ("devserver", "emulator"):
        pid = _pid(STATE / f"{name}.pid")
        print(f"{name}: {f'running, pid {pid}' if pid else 'stopped'}")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    sys.exit({"up": up, "down": down, "status": status}[command]())
