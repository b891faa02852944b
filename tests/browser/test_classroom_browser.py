"""A class on one server, as separate people: separate browser contexts, each with its own cookies.

A trains; B may watch A's job and look at A's runs but not stop, pause, rename or delete them; A still can
after a refresh and in a second tab; the teacher signs in, sees every job, stops A's, deletes any run, and sees
every finished run in the gallery; wrong passwords lock the teacher's door.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from aecore.owners import owner_of
from studio import TRAIN_BUTTON, no_exception, save_small_run, screenshot, start_server, stop_server, wait_idle

PASSWORD = "projector-42"
NOT_YOURS_JOB = "Someone else started this model"
NOT_YOURS_RUN = "Someone else trained this model"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    runs = tmp_path_factory.mktemp("classroom") / "runs"
    runs.mkdir()
    save_small_run(runs, "From before owners")  # no owner: the teacher's to change
    proc, url = start_server(runs, {"AECORE_TEACHER_PASSWORD": PASSWORD})
    yield url, runs
    stop_server(proc)


def person(browser):
    return browser.new_context(viewport={"width": 1400, "height": 1000})


def job_controls(page):
    main = page.locator('[data-testid="stMain"]')
    return main.get_by_role("button", name="Pause", exact=True), main.get_by_role("button", name="Stop", exact=True)


def sign_in(page, password: str) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    if not sidebar.get_by_label("Teacher's password").is_visible():
        sidebar.get_by_text("Teacher", exact=True).click()
    sidebar.get_by_label("Teacher's password").fill(password)
    sidebar.get_by_role("button", name="Sign in").click()
    wait_idle(page)


def pick_run(page, name: str) -> None:
    page.get_by_role("combobox", name="Run").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).click()
    wait_idle(page)


def test_owners_and_the_teacher(browser, classroom):
    url, runs = classroom
    a, b, teacher = person(browser), person(browser), person(browser)
    try:
        # A starts a long job; the page's link is what A would share
        page_a = a.new_page()
        page_a.goto(f"{url}/train?preset=fashion-mlp&epochs=300&patience=0")  # trains until stopped
        wait_idle(page_a)
        page_a.get_by_role("button", name=TRAIN_BUTTON).click()
        pause, stop = job_controls(page_a)
        expect(pause).to_be_visible(timeout=60_000)
        expect(page_a).to_have_url(re.compile(r"job="))
        link = page_a.url

        # B opens A's link: the job read-only
        page_b = b.new_page()
        page_b.goto(link)
        wait_idle(page_b)
        expect(page_b.get_by_text(NOT_YOURS_JOB)).to_be_visible(timeout=30_000)
        for control in job_controls(page_b):
            expect(control).to_have_count(0)
        screenshot(page_b, "classroom-someone-elses-job")

        # A, after a refresh and in a second tab of the same browser, still holds the controls
        page_a.reload()
        wait_idle(page_a)
        expect(job_controls(page_a)[0]).to_be_visible(timeout=30_000)
        tab = a.new_page()
        tab.goto(link)
        wait_idle(tab)
        expect(job_controls(tab)[1]).to_be_visible(timeout=30_000)
        expect(tab.get_by_text(NOT_YOURS_JOB)).to_have_count(0)

        # a run of A's: A may rename and delete it, B only look and download
        token = next(c["value"] for c in a.cookies() if c["name"] == "aecore_owner")
        save_small_run(runs, "A's model", owner_of(token))
        tab.goto(f"{url}/runs")
        wait_idle(tab)
        table = tab.locator('[data-testid="stDataFrame"]').first
        expect(table).to_contain_text("You")  # whose each run is, in a class
        expect(table).to_contain_text("No owner")
        pick_run(tab, "A's model")
        expect(tab.get_by_role("button", name="Rename")).to_be_visible()
        expect(tab.get_by_role("button", name="Delete")).to_be_visible()
        page_b.goto(f"{url}/runs")
        wait_idle(page_b)
        pick_run(page_b, "A's model")
        expect(page_b.get_by_text(NOT_YOURS_RUN)).to_be_visible()
        expect(page_b.get_by_role("button", name="Download (.zip)")).to_be_visible()
        for name in ("Rename", "Delete"):
            expect(page_b.get_by_role("button", name=name)).to_have_count(0)
        pick_run(tab, "From before owners")  # nobody's: not even A may change it in a class
        expect(tab.get_by_text(NOT_YOURS_RUN)).to_be_visible()
        expect(page_b.get_by_role("link", name="Class")).to_have_count(0)  # no teacher's page for a visitor

        # the teacher: every job, stops A's, deletes the run nobody owns, sees every run in the gallery
        page_t = teacher.new_page()
        page_t.goto(f"{url}/train")
        wait_idle(page_t)
        sign_in(page_t, PASSWORD)
        page_t.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Class").click()
        wait_idle(page_t)
        jobs = page_t.locator('[data-testid="stDataFrame"]').first
        expect(jobs).to_contain_text("Training", timeout=30_000)
        expect(page_t.get_by_text(re.compile(r"Gallery: 2 models"))).to_be_visible()
        expect(page_t.locator('[data-testid="stMain"] [data-testid="stImage"]')).to_have_count(2)
        screenshot(page_t, "classroom-teacher")
        page_t.get_by_role("button", name="Stop", exact=True).click()
        expect(page_a.get_by_text(re.compile(r"Stopped"))).to_be_visible(timeout=60_000)  # A sees it end
        page_t.goto(f"{url}/runs")
        wait_idle(page_t)
        pick_run(page_t, "From before owners")
        page_t.get_by_role("button", name="Delete").click()
        page_t.get_by_role("button", name="Yes, delete it").click()
        wait_idle(page_t)
        expect(page_t.get_by_text("The run was deleted.")).to_be_visible()
        for page in (page_a, page_b, tab, page_t):
            no_exception(page)
    finally:
        for context in (a, b, teacher):
            context.close()


def test_wrong_passwords_lock_the_teachers_door(browser, classroom):
    url, _ = classroom
    context = person(browser)
    try:
        page = context.new_page()
        page.goto(url)
        wait_idle(page)
        for _ in range(4):
            sign_in(page, "not it at all")
            expect(page.get_by_text("That is not the teacher's password.")).to_be_visible()
        sign_in(page, "still not it")
        sign_in(page, PASSWORD)  # heard no more: the door is locked for a minute
        expect(page.get_by_text(re.compile(r"locked for \d+ more seconds"))).to_be_visible()
        expect(page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Class")).to_have_count(0)
        assert PASSWORD not in page.url
    finally:
        context.close()

