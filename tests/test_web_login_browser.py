"""The login page in headless chromium: a stranger is sent to it, a wrong password is explained in both
languages, a right one opens the page with the user's name and role, a data administrator gets the
layer tab, and logout ends the session; no console error and nothing fetched from outside."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from siting.accounts import open_store
from tests.accounts import PASSWORD, add_users, module_data_dir
from tests.browser import OfflinePage
from tests.webapp import running_server


@pytest.fixture(scope="module")
def base(data_dir, layers, tmp_path_factory) -> str:
    root = module_data_dir(data_dir, tmp_path_factory.mktemp("login") / "data")
    store = open_store(root / "accounts.sqlite")
    add_users(store, ("张审查", "reviewer", "环评科"), ("李数据", "data-admin", ""), ("赵审计", "auditor", ""))
    store.close()
    with running_server(root, "--check-threads", "2") as url:
        yield url


def log_in(session: OfflinePage, base: str, name: str, password: str = PASSWORD) -> None:
    page = session.page
    page.goto(f"{base}/")
    page.wait_for_url(f"{base}/login?next=%2F")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-submit")


def assert_clean(session: OfflinePage) -> None:
    assert session.console_errors == [], session.console_errors
    assert session.blocked_requests == [] and session.failed_requests == [], session.failed_requests


def test_a_reviewer_logs_in_sees_name_and_role_and_logs_out(session, base):
    page = session.page
    log_in(session, base, "张审查", "not the password")
    error = page.locator("#login-error")
    error.wait_for()
    assert "账户名或密码不正确" in error.inner_text() and "wrong account name or password" in error.inner_text()
    session.console_errors.clear()  # the browser logs the refused login (401) itself

    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#account:not([hidden])")
    assert page.inner_text("#account-name") == "张审查（环评科）" and page.inner_text("#account-role") == "审查人员"
    assert page.locator("#page-admin").is_hidden() and page.locator("#check-form").is_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "siting_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("siting_session") == -1  # not readable by scripts

    page.click("#logout")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/")
    page.wait_for_url(f"{base}/login?next=%2F")  # the session is gone server-side
    assert_clean(session)


def test_a_data_administrator_imports_and_removes_a_layer_on_the_page(session, base, layers, tmp_path):
    page = session.page
    log_in(session, base, "李数据")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("#page-admin:not([hidden])")
    page.wait_for_selector("#admin-layers tbody tr")
    assert page.locator("#admin-form").is_visible() and page.locator("#check-form").is_hidden()
    assert page.inner_text("#account-role") == "数据管理员"
    assert page.locator("#admin-layers tbody tr").count() > 10

    county = layers.admin_area("140826")
    frame = gpd.GeoDataFrame({"名称": ["测试红线"]}, geometry=[shapely.box(*shapely.point_on_surface(county).buffer(0.01).bounds)], crs=4326)
    frame.to_file(tmp_path / "红线.geojson")
    page.set_input_files("#admin-file", str(tmp_path / "红线.geojson"))
    page.fill("#admin-kind", "redline")
    page.fill("#admin-source", "绛县生态保护红线（测试）")
    page.click("#admin-submit")
    page.wait_for_selector("#admin-done:not([hidden])", timeout=120_000)
    assert "已导入" in page.inner_text("#admin-done") and "eco_redline" in page.inner_text("#admin-done")
    row = page.locator("#admin-layers tbody tr", has_text="eco_redline")
    row.locator("text=已导入").wait_for()
    assert "绛县生态保护红线（测试）" in row.inner_text()
    row.locator("button").click()
    page.wait_for_selector("#admin-done:has-text('已移除导入')")
    page.locator("#admin-layers tbody tr", has_text="eco_redline").locator("button").wait_for(state="detached")
    assert_clean(session)


def test_an_auditor_verifies_the_chain_from_the_page(session, base):
    page = session.page
    log_in(session, base, "赵审计")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("#verify-chain:not([hidden])")
    assert page.locator("#check-form").is_hidden() and page.locator("#history").is_visible()
    page.click("#verify-chain")
    page.wait_for_selector("#verify-result:has-text('审计日志完好')")
    assert_clean(session)
