"""The HTTP Link header (RFC 8288 §3): every redirect_uri target, in order, resolved against the final URL."""

from __future__ import annotations

import pytest

from sekisho.protocol.links import MAX_LINKS, targets

BASE = "https://app.example/client/page"


def redirect_uris(*headers: str, base: str = BASE) -> list[str]:
    return targets(headers, "redirect_uri", base)


def test_one_link() -> None:
    assert redirect_uris('<https://app.example/cb>; rel="redirect_uri"') == ["https://app.example/cb"]


def test_unquoted_rel() -> None:
    assert redirect_uris("<https://app.example/cb>; rel=redirect_uri") == ["https://app.example/cb"]


def test_several_links_in_one_header() -> None:
    header = (
        '<https://app.example/a>; rel="redirect_uri", <https://app.example/style.css>; rel="stylesheet", '
        '<https://app.example/b>; rel="redirect_uri"'
    )
    assert redirect_uris(header) == ["https://app.example/a", "https://app.example/b"]


def test_several_headers_keep_their_order() -> None:
    assert redirect_uris(
        '<https://app.example/1>; rel="redirect_uri"',
        '<https://app.example/2>; rel="redirect_uri", <https://app.example/3>; rel="redirect_uri"',
        '<https://app.example/4>; rel="redirect_uri"',
    ) == [f"https://app.example/{n}" for n in range(1, 5)]


def test_quoted_rel_with_several_values() -> None:
    header = '<https://app.example/cb>; rel="me redirect_uri  authorization_endpoint"'
    assert redirect_uris(header) == ["https://app.example/cb"]
    assert targets([header], "me", BASE) == ["https://app.example/cb"]
    assert targets([header], "authorization_endpoint", BASE) == ["https://app.example/cb"]


def test_rel_is_case_insensitive_and_parameters_are_in_any_order() -> None:
    header = '<https://app.example/cb>; title="x"; REL="Redirect_URI"; type="text/html"'
    assert redirect_uris(header) == ["https://app.example/cb"]


def test_relation_must_match_a_whole_value() -> None:
    header = '<https://app.example/a>; rel="redirect_uris", <https://app.example/b>; rel="x-redirect_uri"'
    assert redirect_uris(header) == []


def test_comma_inside_angle_brackets() -> None:
    header = '<https://app.example/cb?a=1,2,3>; rel="redirect_uri", <https://app.example/other>; rel="redirect_uri"'
    assert redirect_uris(header) == ["https://app.example/cb?a=1,2,3", "https://app.example/other"]


def test_semicolon_inside_angle_brackets() -> None:
    header = '<https://app.example/cb;v=1>; rel="redirect_uri"'
    assert redirect_uris(header) == ["https://app.example/cb;v=1"]


def test_comma_and_semicolon_inside_quotes() -> None:
    header = (
        '<https://app.example/a>; title="one, two; three"; rel="redirect_uri", '
        '<https://app.example/b>; title="<not, a link>"; rel="redirect_uri"'
    )
    assert redirect_uris(header) == ["https://app.example/a", "https://app.example/b"]


def test_rel_inside_a_quoted_title_is_not_a_rel() -> None:
    header = '<https://app.example/a>; title="rel=redirect_uri"'
    assert redirect_uris(header) == []


@pytest.mark.parametrize(
    ("target", "resolved"),
    [
        ("/cb", "https://app.example/cb"),
        ("cb", "https://app.example/client/cb"),
        ("../cb", "https://app.example/cb"),
        ("?x=1", "https://app.example/client/page?x=1"),
        ("//other.example/cb", "https://other.example/cb"),
        ("https://other.example/cb", "https://other.example/cb"),
    ],
)
def test_relative_targets_resolved_against_the_final_url(target: str, resolved: str) -> None:
    assert redirect_uris(f'<{target}>; rel="redirect_uri"') == [resolved]


def test_base_is_the_url_after_redirects() -> None:
    assert redirect_uris('<cb>; rel="redirect_uri"', base="https://cdn.example/x/y") == ["https://cdn.example/x/cb"]


def test_spaces_around_the_target_and_parameters() -> None:
    assert redirect_uris('  < /cb >  ;  rel = "redirect_uri"  ,') == ["https://app.example/cb"]


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",,,",
        "https://app.example/cb; rel=redirect_uri",  # no angle brackets
        '<https://app.example/cb; rel="redirect_uri"',  # never closed
        '<https://app.example/cb>; rel="redirect_uri',  # unterminated quote swallows the rest
        "<https://app.example/cb>",  # no rel
        "<https://app.example/cb>; rel=",
        '"<https://app.example/cb>"; rel=redirect_uri',
    ],
)
def test_malformed_headers_give_nothing_and_never_raise(header: str) -> None:
    found = redirect_uris(header)
    assert found in ([], ["https://app.example/cb"])
    if header in ("", ",,,", "https://app.example/cb; rel=redirect_uri", "<https://app.example/cb>"):
        assert found == []


def test_first_of_several_rel_parameters_wins() -> None:
    # RFC 8288 §3.3: occurrences after the first rel parameter are ignored.
    assert redirect_uris('<https://app.example/a>; rel="stylesheet"; rel="redirect_uri"') == []
    assert redirect_uris('<https://app.example/a>; rel="redirect_uri"; rel="stylesheet"') == ["https://app.example/a"]


def test_at_most_max_links() -> None:
    header = ", ".join(f'<https://app.example/{n}>; rel="redirect_uri"' for n in range(MAX_LINKS * 3))
    found = redirect_uris(header, header)
    assert found == [f"https://app.example/{n}" for n in range(MAX_LINKS)]


def test_many_other_links_do_not_hide_later_redirect_uris() -> None:
    header = ", ".join(f'<https://app.example/s{n}.css>; rel="stylesheet"' for n in range(500))
    assert redirect_uris(header, '<https://app.example/cb>; rel="redirect_uri"') == ["https://app.example/cb"]


def test_a_target_that_is_not_a_valid_url_does_not_raise() -> None:
    # A hostile page's Link header: an unclosed IPv6 literal makes urljoin raise ValueError.
    header = '<http://[oops>; rel="redirect_uri", <https://app.example/cb>; rel="redirect_uri"'
    assert redirect_uris(header) == ["https://app.example/cb"]
