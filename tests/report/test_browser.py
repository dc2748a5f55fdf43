"""report.html and profile --html in a real browser: no console error, no request, no blank figure.

Screenshots are kept under the test's temporary folder for a person to look at.
"""

from __future__ import annotations

import pytest

from tests.report.browser import require_browser, visit

# A figure with less than this share of non-background pixels is blank: a plot with
# axes and one bar has several percent; an empty box has none.
INK = 0.01


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def _assert_clean(seen, figures):
    assert seen.console_errors == [] and seen.page_errors == []
    assert seen.external_requests == []
    assert list(seen.figure_ink) == figures
    blank = {name: ink for name, ink in seen.figure_ink.items() if ink < INK}
    assert not blank, f"blank figures: {blank}"


@pytest.mark.slow
def test_the_build_page_loads_with_no_error_no_request_and_no_blank_figure(staged_build, tmp_path):
    seen = visit(staged_build.out / "report.html", tmp_path / "build.png")
    _assert_clean(seen, ["training", "confusion", "per_class", "mistakes", "weights", "placement", "op_times",
                         "progression", "timings"])


def test_the_convert_page_loads_with_no_error_no_request_and_no_blank_figure(conversion, tmp_path):
    seen = visit(conversion.out / "report.html", tmp_path / "convert.png")
    _assert_clean(seen, ["snr", "weights", "placement", "timings"])


def test_the_profile_page_loads_with_no_error_no_request_and_no_blank_figure(profile_page, tmp_path):
    seen = visit(profile_page[0], tmp_path / "profile.png")
    _assert_clean(seen, ["comparison", "latency-0", "latency-1"])


def test_the_checks_see_a_fetch_a_script_error_and_a_blank_figure(tmp_path):
    """The same checks on a page that breaks each rule: they are not vacuous."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
                    '<script>undefinedFunction()</script>'
                    '<figure data-figure="empty" style="width:300px;height:200px"></figure></body></html>')
    seen = visit(page, tmp_path / "broken.png")
    assert seen.external_requests == ["http://127.0.0.1:9/x.png"]
    assert any("undefinedFunction" in e for e in seen.page_errors)
    assert seen.figure_ink == {"empty": 0.0}
