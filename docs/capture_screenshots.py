"""Screenshots for the README: starts `make run`'s launcher on a throwaway data folder, signs in as the
demo user in Debian's Chromium and captures the portfolio and the matrix. Run: `make screenshots`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "docs" / "screenshots"
PAGES = {"portfolio": "/t/demo/portfolio/", "matrix": "/t/demo/matrix/"}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    from playwright.sync_api import sync_playwright

    data_dir = Path(tempfile.mkdtemp(prefix="assay-shots-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(ASSAY_DATA_DIR=str(data_dir), PORT=str(port), PYTHONUNBUFFERED="1")
    log_path = data_dir / "run.log"
    with open(log_path, "wb") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "config.run"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 120
        while "Assay is running at" not in log_path.read_text(errors="replace"):
            if launcher.poll() is not None or time.monotonic() > deadline:
                sys.stderr.write(log_path.read_text(errors="replace"))
                return 1
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/login/")
            page.fill("#id_username", "demo")
            page.fill("#id_password", "demo")
            with page.expect_navigation():
                page.click("button[type=submit]")
            for name, path in PAGES.items():
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
                sys.stdout.write(f"wrote {OUT / name}.png\n")
            browser.close()
        return 0
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(60)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
