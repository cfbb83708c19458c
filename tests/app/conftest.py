"""The member app end to end: a local Anvil seeded with part of the demo community's morning, the
built app (app/dist) served on 127.0.0.1, and Debian's Chromium driven by Playwright with an injected
EIP-1193 test wallet per member (tests/utils/browser.py).

Every test starts from the same chain state (evm_snapshot / evm_revert around it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import HTTPProvider, Web3

from gridmint.community import COMMUNITY
from tests.utils.anvil import free_port
from tests.utils.browser import MEASURES, chromium_available, launch, provider_script

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "app" / "dist"
SHOTS = ROOT / "docs" / "app"
# PV-only homes, flats without PV, the school and the company: by 11:00 the PV homes store WATT and
# have sold some, the flats have bought, and the generators hold certificates
MEMBERS = [COMMUNITY[i] for i in (4, 5, 9, 10, 16, 17)]
SLOTS = 22


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    """Anvil + deploy + seed; yields (w3, rpc_url, seeded)."""
    if not (DIST / "index.html").exists():
        pytest.fail("app/dist is missing: `make app-build` builds the member app before the browser tests")
    from tools.app_seed import FIRST_MEMBER, seed
    from tools.app_serve import start_anvil

    port = free_port()
    anvil = start_anvil(port, FIRST_MEMBER + len(MEMBERS) + 2, None)
    rpc = f"http://127.0.0.1:{port}"
    try:
        seeded = seed(rpc, MEMBERS, SLOTS, tmp_path_factory.mktemp("deployments"))
        yield Web3(HTTPProvider(rpc, request_kwargs={"timeout": 30})), rpc, seeded
    finally:
        anvil.terminate()
        anvil.wait(timeout=20)


@pytest.fixture(scope="session")
def audited(chain, tmp_path_factory):
    """The seeded chain audited as `make app` audits it (tools.app_serve.audit_app); yields
    (audit directory, Report, the chain's head when the audit ran)."""
    from tools.app_serve import audit_app

    w3, rpc, seeded = chain
    head = w3.eth.block_number
    audit_dir = tmp_path_factory.mktemp("audit")
    return audit_dir, audit_app(rpc, seeded.deployment, audit_dir), head


def _serving(rpc: str, deployment: Path, audit_dir: Path | None):
    from tools.app_serve import serve

    server = serve(rpc, deployment, 0, audit_dir=audit_dir)
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def app_url(chain, audited):
    """The app as `make app` serves it: with the audit of the seeded chain under /audit/."""
    yield from _serving(chain[1], chain[2].deployment, audited[0])


@pytest.fixture(scope="session")
def app_url_without_audit(chain):
    """The app as a deployment without an auditor serves it."""
    yield from _serving(chain[1], chain[2].deployment, None)


@pytest.fixture(scope="session")
def deployment(chain):
    return json.loads(Path(chain[2].deployment).read_text())


@pytest.fixture(scope="session")
def contracts(chain, deployment):
    w3 = chain[0]
    return {name: w3.eth.contract(address=Web3.to_checksum_address(c["address"]), abi=c["abi"])
            for name, c in deployment["contracts"].items()}


@pytest.fixture(scope="session")
def members(chain):
    """name -> seeded member record (account, meter, kind)."""
    return {m["name"]: m for m in chain[2].members}


@pytest.fixture(autouse=True)
def clean_chain(chain):
    w3 = chain[0]
    snap = w3.provider.make_request("evm_snapshot", [])["result"]
    yield
    w3.provider.make_request("evm_revert", [snap])


@pytest.fixture(scope="session")
def browser():
    if not chromium_available():
        pytest.fail("Debian's chromium is not installed (`make chromium`)")
    from playwright.sync_api import sync_playwright

    MEASURES.unlink(missing_ok=True)  # this run's timings only
    pw = sync_playwright().start()
    b = launch(pw)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def open_app(browser, app_url, chain):
    """open_app(member account, viewport=...) -> a page of the app with that member's wallet injected."""
    rpc = chain[1]
    contexts = []

    def _open(account: str, width: int = 1280, height: int = 900, path: str = "#/home", mobile: bool = False,
              wallet_chain: int | None = None, base: str | None = None, console_errors: list | None = None):
        """`base`: another server's URL than app_url; `console_errors`: collects the page's console
        errors and uncaught exceptions from its first load on."""
        ctx = browser.new_context(viewport={"width": width, "height": height}, timezone_id="Europe/Berlin",
                                  locale="en-GB", is_mobile=mobile, has_touch=mobile,
                                  device_scale_factor=2 if mobile else 1)
        ctx.add_init_script(provider_script(rpc, account, wallet_chain))
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        if console_errors is not None:
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
        page.goto((base or app_url) + path)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()
