"""The built book in a real browser (Debian's chromium, headless, offline): every widget renders,
every figure loads, moving a control switches the precomputed frame without a kernel, and every
chapter's quiz tells a wrong answer from the right one (naming the wrong one's misconception) and explains
both, shuffles its options per reader, and can be answered by keyboard alone; every page passes axe-core's
WCAG 2.1 A and AA rules in the light and the dark theme, every image has a meaningful alt, and a widget
works by keyboard alone. Screenshots of every chapter land in ``_build/test/screenshots``."""
import collections
import shutil
from pathlib import Path

import pytest

from saltools.plots.alt import is_meaningful
from tests.conftest import ROOT

pytestmark = pytest.mark.book

CHAPTERS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--disable-quic"]

# A Stack view keeps only its selected child in the page: the frames shown are the widget images.
VISIBLE_FRAMES = """() => Array.from(document.querySelectorAll('.widget-subarea img.widget-image'))
    .filter(img => img.offsetParent !== null).map(img => img.src)"""


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (.ci/run does this)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        yield launched
        launched.close()


#: axe-core's rule sets for WCAG 2.1 levels A and AA
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: violations from the theme or a third-party script that the book cannot fix: (rule, page) -> reason and the
#: upstream issue. Nothing else is excused.
EXCUSED: dict[tuple[str, str], str] = {}
OTHER_PAGES = ["book/intro.html", "book/teachers.html", "book/glossary.html", "book/references.html",
               "book/colab.html", "book/claims_changelog.html", "slides/05_rectgrad_bias.html"]
ALL_PAGES = [f"notebooks/{chapter}.html" for chapter in CHAPTERS] + OTHER_PAGES
#: the theme fades colours for 0.15 s: axe must measure the colours the reader sees, not a fade's middle
SETTLED = "*, *::before, *::after { transition: none !important; animation: none !important; }"
IMAGE_ALTS = "() => Array.from(document.querySelectorAll('img')).map(img => [img.getAttribute('alt'), img.src.slice(0, 60)])"


class Pages:
    """Chapter pages opened offline, each once, with a screenshot: ``pages[chapter] -> (page, errors, views)``."""

    def __init__(self, built_book, context):
        self.built_book, self.context, self.opened = built_book, context, {}
        self.shots = built_book.parents[1] / "screenshots"
        self.shots.mkdir(exist_ok=True)

    def __getitem__(self, chapter):
        if chapter not in self.opened:
            page = self.context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((self.built_book / page_path(chapter)).as_uri(), wait_until="load")
            views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
            if views:
                page.wait_for_function("document.querySelectorAll('.widget-subarea img.widget-image').length > 0",
                                       timeout=60_000)
            if page.locator(".math").count():        # MathJax, served by the book, typesets offline
                page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=30_000)
            if page.locator(".reveal").count():
                page.wait_for_function("document.querySelector('.reveal.ready') !== null", timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(self.shots / f"{Path(chapter).stem}.png"), full_page=True)
            self.opened[chapter] = (page, errors, views)
        page = self.opened[chapter][0]
        page.bring_to_front()       # a page in the background gets no animation frames: every action would wait
        return self.opened[chapter]


def page_path(name: str) -> str:
    """A chapter's name, or a page's path under the built book's HTML."""
    return name if name.endswith(".html") else f"notebooks/{name}.html"


@pytest.fixture(scope="module")
def pages(built_book, browser):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    yield Pages(built_book, context)
    context.close()


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of ``page``: one dict per rule and element."""
    from axe_playwright_python.sync_playwright import Axe
    page.evaluate(Axe().axe_script)
    found = page.evaluate("options => axe.run(document, options)",
                          {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]})
    return [{"rule": v["id"], "impact": v["impact"], "element": " ".join(map(str, node["target"])),
             "html": node["html"][:160]} for v in found["violations"] for node in v["nodes"]]


@pytest.fixture(scope="module")
def scanned(pages):
    """axe's violations of every page in each theme: {(theme, page): [violation, ...]}, printed by impact.
    The dark theme is switched on as the theme's own toggle does it (``data-theme`` on ``<html>``)."""
    results = {}
    for name in [*CHAPTERS, *OTHER_PAGES]:
        page = pages[name][0]
        page.add_style_tag(content=SETTLED)
        for theme in ("light", "dark"):
            page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
            page.wait_for_timeout(300)
            if not name.startswith("slides/"):                  # a deck has reveal.js' one theme
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert (background == "rgb(255, 255, 255)") == (theme == "light"), f"{theme}: {background}"
            results[theme, page_path(name)] = axe_violations(page)
        page.evaluate("document.documentElement.dataset.theme = 'light'")
    for (theme, path), found in results.items():
        print(theme, path, dict(collections.Counter(v["impact"] for v in found)))
    return results


def test_every_page_passes_axe_s_wcag_21_aa_rules_in_both_themes(scanned):
    assert len(scanned) == 2 * len(ALL_PAGES)
    serious = [f"{theme} {path}: {v['rule']} ({v['impact']}) at {v['element']}: {v['html']}"
               for (theme, path), found in scanned.items() for v in found
               if v["impact"] in ("serious", "critical") and (v["rule"], path) not in EXCUSED]
    assert not serious, "\n".join(serious)


def test_the_scan_finds_an_image_without_alt_and_an_unnamed_slider(browser, tmp_path):
    (tmp_path / "broken.html").write_text(
        '<!DOCTYPE html><html lang="en"><head><title>broken</title></head><body><main><h1>Broken</h1>'
        '<img src="x.png"><div role="slider" tabindex="0" aria-valuenow="1"></div></main></body></html>')
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((tmp_path / "broken.html").as_uri())
    rules = {(v["rule"], v["impact"]) for v in axe_violations(page)}
    context.close()
    assert {("image-alt", "critical"), ("aria-input-field-name", "serious")} <= rules


def test_every_image_has_a_meaningful_alt(pages, scanned):
    missing = {}
    for name in [*CHAPTERS, *OTHER_PAGES]:
        alts = pages[name][0].evaluate(IMAGE_ALTS)
        bad = [f"{src}: alt={alt!r}" for alt, src in alts if not is_meaningful(alt)]
        if bad:
            missing[name] = bad
    assert not missing, missing
    chapter_images = sum(len(pages[c][0].evaluate(IMAGE_ALTS)) for c in CHAPTERS)
    assert chapter_images >= 60                  # the figures and widget frames, not a page with none


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figures_and_widgets_render_offline(pages, chapter):
    page, errors, views = pages[chapter]
    assert not errors, errors
    broken = page.evaluate("""() => Array.from(document.querySelectorAll('.cell_output img'))
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src.slice(0, 80))""")
    assert not broken, f"images that did not load: {broken}"
    assert page.evaluate("document.querySelectorAll('.cell_output img').length") > 0
    rendered = page.evaluate("document.querySelectorAll('.widget-subarea').length")
    assert rendered == views, f"{views} widget views in the page, {rendered} rendered"
    if chapter != "00_setup":
        explorers = _explorers(page).count()
        assert explorers >= 1, "no precomputed widget frame is shown"
        assert len(page.evaluate(VISIBLE_FRAMES)) == explorers, "each explorer shows exactly one frame"


def _explorers(page):
    return page.locator(".widget-subarea", has=page.locator("img.widget-image"))


def _frame(widget):
    return widget.locator("img.widget-image").evaluate_all("imgs => imgs.map(img => img.src)")


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c != "00_setup"])
def test_moving_a_control_switches_the_frame(pages, chapter):
    page, _, _ = pages[chapter]
    widget = _explorers(page).first
    before = _frame(widget)
    dropdowns = widget.locator("select")
    if dropdowns.count():
        options = dropdowns.first.locator("option").all_inner_texts()
        current = dropdowns.first.locator("option:checked").inner_text()
        dropdowns.first.select_option(index=(options.index(current) + 1) % len(options))
    else:
        handle = widget.locator(".noUi-handle").first
        handle.focus()
        handle.press("ArrowRight")
    page.wait_for_timeout(500)
    after = _frame(widget)
    assert len(before) == len(after) == 1 and after != before, "moving the control did not change the frame"


def _radio(question, value):
    return question.locator(f"input[type=radio][value='{value}']")


def answer_quiz(page) -> int:
    """Answer every quiz question on ``page`` wrongly, then rightly, checking the feedback (a wrong option
    names its misconception) and the explanation each time; returns the number of questions."""
    questions = page.locator(".quiz-question")
    for i in range(questions.count()):
        question = questions.nth(i)
        kind, answer = question.get_attribute("data-kind"), question.get_attribute("data-answer")
        explanation, feedback = question.locator(".quiz-explanation"), question.locator(".quiz-feedback")
        assert not explanation.is_visible(), "the explanation shows before any answer"
        question.locator(".quiz-check").click()
        assert "first" in feedback.inner_text() and not explanation.is_visible()
        if kind == "choice":
            wrong = (int(answer) + 1) % question.locator("input[type=radio]").count()
            _radio(question, wrong).check()
            why = _radio(question, wrong).locator("xpath=..").get_attribute("data-why")
        else:
            question.locator("input[type=text]").fill(str(float(answer) + 1 + 10 * float(question.get_attribute(
                "data-tolerance"))))
            why = "read why, then try again."
        question.locator(".quiz-check").click()
        assert feedback.inner_text() == f"Not quite: {why}" and explanation.is_visible()
        if kind == "choice":
            _radio(question, answer).check()
        else:
            question.locator("input[type=text]").fill(answer)
        question.locator(".quiz-check").click()
        assert feedback.inner_text() == "Correct." and explanation.is_visible()
    return questions.count()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_s_quiz_checks_answers_and_explains_them_offline(pages, chapter):
    page, errors, _ = pages[chapter]
    assert page.locator(".quiz").count() == 1, "the chapter has no quiz"
    assert 3 <= answer_quiz(page) <= 5
    assert not errors, errors


def _option_orders(page) -> list[list[str]]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('.quiz-question[data-kind=choice]'))
        .map(q => Array.from(q.querySelectorAll('input[type=radio]')).map(r => r.value))""")


def test_quiz_options_are_shuffled_per_reader_and_kept_on_reload(built_book, browser):
    url = (built_book / "notebooks" / "05_rectgrad_bias.html").as_uri()
    orders = []
    for _reader in range(2):
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.goto(url, wait_until="load")
        first = _option_orders(page)
        page.reload(wait_until="load")
        assert _option_orders(page) == first, "a reload changed the order of the options"
        orders.append(first)
        context.close()
    written = [[str(i) for i in range(len(o))] for o in orders[0]]
    assert orders[0] != written or orders[1] != written, "the options are not shuffled"


def test_a_widget_is_explored_by_keyboard_alone(built_book, browser):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto((built_book / "notebooks" / "05_rectgrad_bias.html").as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('.widget-subarea img.widget-image').length > 0",
                           timeout=60_000)
    widget = page.locator(".widget-subarea", has=page.locator(".noUi-handle")).first
    handle = widget.locator("[role=slider]").first
    label = handle.get_attribute("aria-label")
    assert label and label == widget.locator(".widget-slider .widget-label").first.inner_text().strip()
    before = _frame(widget)
    widget.locator(".widget-label").first.click()           # start at the widget's first label, then only keys
    for _ in range(20):
        if page.evaluate("document.activeElement.getAttribute('role')") == "slider":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == label, "Tab never reached it"
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)
    after = _frame(widget)
    assert len(after) == 1 and after != before, "the arrow key did not change the frame"
    assert is_meaningful(widget.locator("img.widget-image").first.get_attribute("alt"))
    context.close()


def test_a_quiz_question_is_answered_by_keyboard_alone(built_book, browser):
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((built_book / "notebooks" / "03_pot.html").as_uri(), wait_until="load")
    question = page.locator(".quiz-question[data-kind=choice]").first
    answer = question.get_attribute("data-answer")
    in_question = "el => el.contains(document.activeElement) && document.activeElement.type === 'radio'"
    page.locator(".quiz-title").first.click()               # start from the quiz's title, then only keys
    for _ in range(40):
        if question.evaluate(in_question):
            break
        page.keyboard.press("Tab")
    assert question.evaluate(in_question), "Tab never reached the question's options"
    page.keyboard.press("Space")                            # choose the focused option
    for _ in range(question.locator("input[type=radio]").count()):
        if question.locator("input[type=radio]:checked").get_attribute("value") == answer:
            break
        page.keyboard.press("ArrowDown")                    # arrow keys move the choice within the group
    assert question.locator("input[type=radio]:checked").get_attribute("value") == answer
    page.keyboard.press("Tab")                              # on to the Check button
    assert page.evaluate("document.activeElement.className") == "quiz-check"
    page.keyboard.press("Enter")
    assert question.locator(".quiz-feedback").inner_text() == "Correct."
    context.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_s_slides_open_offline_and_advance(built_book, browser, chapter):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((built_book / "slides" / f"{chapter}.html").as_uri(), wait_until="load")
    page.wait_for_function("document.querySelector('.reveal.ready') !== null", timeout=30_000)
    assert page.evaluate("Reveal.getTotalSlides()") >= 4
    broken = page.evaluate("""() => Array.from(document.querySelectorAll('.reveal img'))
        .filter(img => !(img.complete && img.naturalWidth > 0)).length""")
    assert broken == 0, f"{broken} figures did not load"
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)
    assert page.evaluate("Reveal.getIndices().h") == 1, "the arrow key did not advance the deck"
    assert not errors, errors
    context.close()
