"""Diff → counts and fingerprints: published vectors, upstream test diffs, the real capture,
and property tests against a line-by-line port of the spec rules.

Every diff test runs twice: on the pure-Python reference and on the public function, which
sends all-ASCII diffs to the native scanner when the C extension is built. The ASCII property
tests and the native-vs-Python tests make sure the native path sees arbitrary input too.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentlytics.fingerprints import diff as diff_module
from agentlytics.fingerprints.diff import (
    FINGERPRINT_BACKEND,
    RUST_WHITESPACE,
    DiffFingerprints,
    effective_lines,
    fingerprint_hash,
    fingerprint_unified_diff,
    fingerprint_unified_diff_python,
    iter_file_sections,
    line_hash,
    normalize_diff_path,
    normalize_effective_line,
    rust_lines,
)

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"

Fingerprint = Callable[[str], DiffFingerprints]
IMPLEMENTATIONS = pytest.mark.parametrize(
    "fingerprint",
    [
        pytest.param(fingerprint_unified_diff_python, id="python"),
        # native for all-ASCII diffs when the extension is built, else the same Python path
        pytest.param(fingerprint_unified_diff, id=f"public-{FINGERPRINT_BACKEND}"),
    ],
)

VECTORS = [
    ("path", "src/lib.rs", "d69749859af906cb3f8a6fb5d85a0871d2f3b3e9"),
    ("line", "fn useful() {", "998e977f88e4d7596efb5b2bcbc9d6b5d563530d"),
    ("line", "return user.id;", "75748444cc82682e434401d345daea2f97b6f657"),
    ("line", "++ new value", "5da4bc9b3b729e99c272878cf4d25d2fc1fe8831"),
    ("path", "new.py", "31e95a57030e48732807fb7bbba783fa03295e8d"),
    ("line", "print('hello')", "747af2b27a2979c4acaf149a9f7156121aa7251c"),
    ("repo", "github.com/openai/codex", "ebe09d3405069192a994b36a394fc2a6a3dd3ee1"),
]


@pytest.mark.parametrize(("domain", "value", "expected"), VECTORS)
def test_published_hash_vectors(domain: str, value: str, expected: str) -> None:
    assert fingerprint_hash(domain, value) == expected


def test_hash_is_domain_separated() -> None:
    assert fingerprint_hash("repo", "src/lib.rs") != fingerprint_hash("path", "src/lib.rs")
    assert line_hash("fn useful() {") == fingerprint_hash("line", "fn useful() {")


def test_fingerprint_hash_is_domain_separated_sha1() -> None:
    """Upstream's accepted_lines.rs unit test (reducer.md §7.2): path ``src/lib.rs`` hashes to
    its published value, the SHA-1 of ``file-line-v1 NUL path NUL src/lib.rs``, and the same
    text in the repo domain hashes differently."""
    expected = "d69749859af906cb3f8a6fb5d85a0871d2f3b3e9"
    assert fingerprint_hash("path", "src/lib.rs") == expected
    assert hashlib.sha1(b"file-line-v1\x00path\x00src/lib.rs").hexdigest() == expected
    assert fingerprint_hash("repo", "src/lib.rs") != expected


LIB = fingerprint_hash("path", "src/lib.rs")


@IMPLEMENTATIONS
def test_parses_counts_and_effective_added_fingerprints(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n"
        "@@ -1,3 +1,5 @@\n-old line\n+fn useful() {\n+}\n+    return user.id;\n context\n"
    )
    assert fingerprint(diff) == DiffFingerprints(
        3,
        1,
        [
            (LIB, "998e977f88e4d7596efb5b2bcbc9d6b5d563530d"),
            (LIB, "75748444cc82682e434401d345daea2f97b6f657"),
        ],
    )


@IMPLEMENTATIONS
def test_skips_added_file_metadata_headers(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/new.py b/new.py\nnew file mode 100644\nindex 0000000..1111111\n"
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+print('hello')\n"
    )
    assert fingerprint(diff) == DiffFingerprints(1, 0, [(VECTORS[4][2], VECTORS[5][2])])


@IMPLEMENTATIONS
def test_parses_hunk_lines_that_look_like_file_headers(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n"
        "@@ -1 +1 @@\n--- old value\n+++ new value\n"
    )
    assert fingerprint(diff) == DiffFingerprints(1, 1, [(LIB, VECTORS[3][2])])


@IMPLEMENTATIONS
def test_counts_ignore_changes_outside_hunks(fingerprint: Fingerprint) -> None:
    diff = (
        "+ignore this\n"
        "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n"
        "@@ -1 +1 @@\n-old line\n+new line\n"
        "diff --git a/other.rs b/other.rs\n+ignored after a header without a hunk\n-ignored too\n"
    )
    result = fingerprint(diff)
    assert (result.added, result.deleted) == (1, 1)
    assert result.fingerprints == [(LIB, fingerprint_hash("line", "new line"))]


@IMPLEMENTATIONS
def test_counts_added_and_deleted_hunk_lines(fingerprint: Fingerprint) -> None:
    diff = "@@ -1,2 +1,3 @@\n-a\n+b\n+c\n+d\n"
    assert fingerprint(diff) == DiffFingerprints(3, 1, [])  # no path: no prints


@IMPLEMENTATIONS
def test_deleted_file_counts_but_never_fingerprints(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n"
        "+++ /dev/null\n@@ -1,2 +0,0 @@\n-print('bye')\n-x = 1\n"
    )
    assert fingerprint(diff) == DiffFingerprints(0, 2, [])


@IMPLEMENTATIONS
def test_rename_binary_and_mode_changes_have_no_counts(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\nrename to b.py\n"
        "diff --git a/img.png b/img.png\nBinary files a/img.png and b/img.png differ\n"
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
    )
    assert fingerprint(diff) == DiffFingerprints(0, 0, [])


@IMPLEMENTATIONS
def test_renamed_with_edits_uses_new_path_and_crlf_lines(fingerprint: Fingerprint) -> None:
    diff = (
        "diff --git a/old.py b/new.py\r\nsimilarity index 90%\r\nrename from old.py\r\n"
        "rename to new.py\r\n--- a/old.py\r\n+++ b/new.py\r\n@@ -1 +1 @@\r\n-x = 1\r\n"
        "+print('hello')\r\n\\ No newline at end of file\r\n"
    )
    assert fingerprint(diff) == DiffFingerprints(1, 1, [(VECTORS[4][2], VECTORS[5][2])])


@IMPLEMENTATIONS
def test_multi_file_diff_without_git_headers_keeps_first_hunk(fingerprint: Fingerprint) -> None:
    # §6.2: in_hunk is only reset by `diff --git `, so the second file's headers are content.
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n+value = 1\n--- a/y.py\n+++ b/y.py\n+other = 2\n"
    result = fingerprint(diff)
    assert (result.added, result.deleted) == (3, 1)
    x = fingerprint_hash("path", "x.py")
    assert result.fingerprints == [
        (x, line_hash("value = 1")),
        (x, line_hash("++ b/y.py")),
        (x, line_hash("other = 2")),
    ]


NORMALIZE_CASES = [
    ("fn useful() {", "fn useful() {"),
    ("}", None),
    ("    return user.id;", "return user.id;"),
    ("----", None),
    ("abc", None),
    ("abcd", "abcd"),
    ("  ab \t cd  ", "ab cd"),
    ("é!", None),  # 3 UTF-8 bytes
    ("éé", "éé"),  # 4 bytes, alphabetic
    ("_ _", None),  # 3 bytes
    ("__ _", "__ _"),
    ("// ----------", None),  # long but no word character
    ("x\u00a0\u3000y z", "x y z"),  # Unicode whitespace collapses
    ("ab\x1ccd", "ab\x1ccd"),  # Rust does not split on \x1c; Python's split() would
    ("ab \x1f cd", "ab \x1f cd"),
    ("١٢٣٤", "١٢٣٤"),  # Arabic-Indic digits are numeric
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE_CASES)
def test_normalize_effective_line(raw: str, expected: str | None) -> None:
    assert normalize_effective_line(raw) == expected
    assert effective_lines([raw]) == [expected]


@IMPLEMENTATIONS
def test_information_separators_are_content_in_the_fast_path(fingerprint: Fingerprint) -> None:
    diff = "+++ b/f.py\n@@ -0,0 +1 @@\n+ab\x1ccd\n"
    assert fingerprint(diff).fingerprints == [
        (fingerprint_hash("path", "f.py"), line_hash("ab\x1ccd"))
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" b/src/lib.rs ", "src/lib.rs"),
        ("a/src/lib.rs", "src/lib.rs"),
        ("b/a/x", "a/x"),
        ("/dev/null", None),
        ("  /dev/null\t", None),
        ('"b/quoted name.py"', '"b/quoted name.py"'),
        ("w/x.py", "w/x.py"),
        ("b/x.py\t2024-01-01", "x.py\t2024-01-01"),
    ],
)
def test_normalize_diff_path(raw: str, expected: str | None) -> None:
    assert normalize_diff_path(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("\n", [""]),
        ("a\nb", ["a", "b"]),
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\r\n", ["a", "b"]),
        ("a\r\r\nb", ["a\r", "b"]),
        ("a\vb\x1cc\u2028d\n", ["a\vb\x1cc\u2028d"]),
        ("a\n\nb", ["a", "", "b"]),
        ("x\r", ["x\r"]),
    ],
)
def test_rust_lines(text: str, expected: list[str]) -> None:
    assert rust_lines(text) == expected


@IMPLEMENTATIONS
def test_apply_patch_capture_last_diff(fingerprint: Fingerprint) -> None:
    diffs = []
    with (CAPTURES / "apply_patch_accept.jsonl").open() as fh:
        for line in fh:
            msg = json.loads(line)["msg"]
            if msg.get("method") == "turn/diff/updated":
                diffs.append(msg["params"]["diff"])
    assert len(diffs) == 3
    result = fingerprint(diffs[-1])
    hello = "2d02bcf961b29b832991aee2face4346a873948a"  # path hello.py
    notes = "3d87f4aa6454a3dbe70a037ddb3c8731cbbd69d3"  # path notes.md
    assert result == DiffFingerprints(
        added=3,
        deleted=1,
        fingerprints=[
            (hello, "2b3b9e2aee7e4cfa3695493cafa2f189b010ad6e"),  # print("hello, world")
            (notes, "8d6e0dd7597197944cc045852cd6296875096083"),  # # Notes
            (notes, "17ca5deae0f36b40692b990cd1f0dde6bcbfc797"),  # Written by the agent.
        ],
    )
    assert hello == fingerprint_hash("path", "hello.py")


# --- property tests ---------------------------------------------------------------------


def _ref_normalize(line: str) -> str | None:
    """Spec §6.2 normalisation written the plain way (char-by-char whitespace split)."""
    words: list[str] = []
    current = ""
    for ch in line:
        if ch in RUST_WHITESPACE:
            if current:
                words.append(current)
            current = ""
        else:
            current += ch
    if current:
        words.append(current)
    norm = " ".join(words)
    if len(norm.encode("utf-8", "surrogatepass")) <= 3:
        return None
    if not any(ch.isalnum() or ch == "_" for ch in norm):
        return None
    return norm


def _ref_sha1(domain: str, value: str) -> str:
    data = b"file-line-v1\0" + domain.encode() + b"\0" + value.encode("utf-8", "surrogatepass")
    return hashlib.sha1(data).hexdigest()


def reference(diff: str) -> DiffFingerprints:
    """Line-by-line port of the §6.2 rules with decision 5 (hunk-only), from the spec text."""
    lines = diff.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if diff == "":
        lines = []
    path: str | None = None
    in_hunk = False
    out = DiffFingerprints()
    for i, line in enumerate(lines):
        if line.endswith("\r") and (i < len(lines) - 1 or diff.endswith("\n")):
            line = line[:-1]
        if line.startswith("diff --git "):
            path, in_hunk = None, False
        elif line.startswith("@@ "):
            in_hunk = True
        elif not in_hunk and line.startswith("+++ "):
            path = normalize_diff_path(line[4:])
        elif not in_hunk:
            continue
        elif line.startswith("+"):
            out.added += 1
            norm = _ref_normalize(line[1:])
            if path is not None and norm is not None:
                out.fingerprints.append((_ref_sha1("path", path), _ref_sha1("line", norm)))
        elif line.startswith("-"):
            out.deleted += 1
    return out


DIFFY_LINES = st.sampled_from(
    [
        "diff --git a/x.py b/x.py", "diff --git a/y b/y", "--- a/x.py", "+++ b/x.py",
        "+++ /dev/null", "+++ b/dir/ü.py", "@@ -1 +1 @@", "@@ -0,0 +1,2 @@ fn", "@@@ -1 +1 @@",
        "+++ new value", "--- old", "+", "-", " context", "\\ No newline at end of file",
        "+    return user.id;", "+}", "+fn useful() {", "-old line", "+\x1c\x1d abc",
        "+a\u2028b\u00a0c", "+\tx\v=\fy\r", "+é!", "+__init__", "index 0..1", "diffx",
    ]
)  # fmt: skip
ARBITRARY = st.text(
    alphabet=st.sampled_from("+-@d \t\r\n\v\f\x1c\x1d\x1e\x1f\x00\u2028\u0085\u00a0abé_/{}:;")
    | st.characters(),
    max_size=300,
)


@IMPLEMENTATIONS
@settings(max_examples=400, deadline=None)
@given(ARBITRARY)
def test_never_raises_and_matches_reference_on_arbitrary_text(
    fingerprint: Fingerprint, text: str
) -> None:
    assert fingerprint(text) == reference(text)


@IMPLEMENTATIONS
@settings(max_examples=300, deadline=None)
@given(st.lists(DIFFY_LINES | ARBITRARY.map(lambda s: s.replace("\n", "")), max_size=40),
       st.sampled_from(["\n", "\r\n"]), st.booleans())  # fmt: skip
def test_matches_reference_on_diff_like_text(
    fingerprint: Fingerprint, lines: list[str], eol: str, final: bool
) -> None:
    text = eol.join(lines) + (eol if final else "")
    assert fingerprint(text) == reference(text)


CONTENT = st.text(alphabet=st.characters(exclude_characters="\n"), max_size=30)
OPS = st.lists(st.tuples(st.sampled_from(" +-"), CONTENT), min_size=1, max_size=30)


@IMPLEMENTATIONS
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.py", "dir/b.rs", "/dev/null"]),
                          st.lists(OPS, min_size=1, max_size=3)), max_size=5))  # fmt: skip
def test_counts_match_a_simple_counter_on_well_formed_diffs(
    fingerprint: Fingerprint,
    files: list[tuple[str, list[list[tuple[str, str]]]]],
) -> None:
    parts: list[str] = []
    expected_added = expected_deleted = 0
    for path, hunks in files:
        target = path if path == "/dev/null" else f"b/{path}"
        parts.append(f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ {target}\n")
        for ops in hunks:
            parts.append("@@ -1 +1 @@\n")
            for op, content in ops:
                parts.append(f"{op}{content}\n")
                expected_added += op == "+"
                expected_deleted += op == "-"
    diff = "".join(parts)
    result = fingerprint(diff)
    assert (result.added, result.deleted) == (expected_added, expected_deleted)
    assert sum(len(s.added) for s in iter_file_sections(diff)) == expected_added


# --- the native scanner (C extension) ----------------------------------------------------

needs_native = pytest.mark.skipif(
    FINGERPRINT_BACKEND != "native",
    reason="agentlytics.fingerprints._native is not built (no C compiler at install time?); "
    "the pure-Python path is in use and tested above",
)

#: ASCII with everything the rules care about: Rust whitespace (\t \n \v \f \r space),
#: the information separators (content for Rust, whitespace for Python's split), NUL, word and
#: non-word characters, and the line-start markers.
ASCII_CHARS = st.sampled_from("+-@d \t\r\v\f\x1c\x1d\x1e\x1f\x00ab_Z09/{}:;") | st.characters(
    max_codepoint=127, exclude_characters="\n"
)
#: Short contents, so that the 3- and 4-byte limits of the effectiveness filter are hit often.
SHORT_ASCII = st.text(ASCII_CHARS, max_size=8)
#: Lines of 500 to ~10,000 characters: longer than the scanner's 4 KiB stack buffer.
LONG_ASCII = st.builds(
    operator.mul, st.text(ASCII_CHARS, min_size=1, max_size=8), st.integers(500, 1300)
)
ASCII_LINES = (
    st.sampled_from(
        [
            "diff --git a/x.py b/x.py", "--- a/x.py", "+++ b/x.py", "+++ /dev/null",
            "+++ b/dir/y.rs", "@@ -1 +1 @@", "@@ -0,0 +1,2 @@ fn", "@@@ -1 +1 @@", "+++ new value",
            "--- old", "+", "-", "", " context", "\\ No newline at end of file", "+abc", "+abcd",
            "+ ab ", "+ a b", "+a_b", "+----", "+    return user.id;", "+}", "+\tx\v=\fy\r",
            "+\x1c\x1d abc", "+\r", "+   \r", "+____", "+_ _ _", "+ __ _", "+--_-",
        ]
    )
    | st.builds(
        operator.add,
        st.sampled_from(["+", "-", " ", "+++ ", "--- ", "@@ ", "diff --git ", ""]),
        SHORT_ASCII | st.text(ASCII_CHARS, max_size=60) | LONG_ASCII,
    )
)  # fmt: skip
ASCII_DIFFS = st.builds(
    lambda lines, eol, final: eol.join(lines) + (eol if final else ""),
    st.lists(ASCII_LINES, max_size=40),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)


@IMPLEMENTATIONS
@settings(max_examples=300, deadline=None)
@given(ASCII_DIFFS | st.text(ASCII_CHARS | st.just("\n"), max_size=300))
def test_matches_reference_on_ascii_diffs(fingerprint: Fingerprint, text: str) -> None:
    assert fingerprint(text) == reference(text)


@needs_native
@settings(max_examples=500, deadline=None)
@given(ASCII_DIFFS)
def test_native_matches_python_on_ascii_diffs(text: str) -> None:
    native = diff_module._fingerprint_unified_diff_native(text)
    assert native == fingerprint_unified_diff_python(text)


@needs_native
@pytest.mark.parametrize(("domain", "value", "expected"), [v for v in VECTORS if v[0] == "line"])
def test_native_published_line_vectors(domain: str, value: str, expected: str) -> None:
    from agentlytics.fingerprints._native import scan_hunks

    hunk = f"@@ -1 +1 @@\n+{value}\n+\t {value}  \r\n"
    assert scan_hunks(hunk, 0, len(hunk), True) == (2, 0, [expected, expected])
    assert scan_hunks(hunk, 0, len(hunk), False) == (2, 0, [])


@needs_native
@pytest.mark.parametrize(
    ("raw", "expected"), [c for c in NORMALIZE_CASES if c[0].isascii()], ids=repr
)
def test_native_effective_line_rules(raw: str, expected: str | None) -> None:
    from agentlytics.fingerprints._native import scan_hunks

    hunk = f"@@ -1 +1 @@\n+{raw}\n"
    hashes = [] if expected is None else [line_hash(expected)]
    assert scan_hunks(hunk, 0, len(hunk), True) == (1, 0, hashes)


@needs_native
def test_native_classifies_every_ascii_character_like_python() -> None:
    from agentlytics.fingerprints._native import scan_hunks

    for code in range(128):
        ch = chr(code)
        if ch == "\n":
            continue
        for raw in (f"--{ch}--", f"ab{ch}cd", f"{ch}{ch}{ch}{ch}", f" {ch}a{ch}b "):
            hunk = f"@@ -1 +1 @@\n+{raw}\n"
            norm = normalize_effective_line(raw)
            expected = [] if norm is None else [line_hash(norm)]
            assert scan_hunks(hunk, 0, len(hunk), True) == (1, 0, expected), repr(raw)


@needs_native
def test_native_hashes_every_length_across_sha1_block_boundaries() -> None:
    from agentlytics.fingerprints._native import scan_hunks

    # prefix (18 bytes) + text: one-block messages end at 55 bytes, two-block ones at 119, ...
    contents = ["".join(chr(33 + (i * 7 + n) % 94) for i in range(n)) + "x" for n in range(300)]
    hunk = "@@ -1 +1 @@\n" + "".join(f"+{c}\n" for c in contents)
    _, _, hashes = scan_hunks(hunk, 0, len(hunk), True)
    assert hashes == [line_hash(c) for c in contents if len(c) > 3]


@needs_native
def test_native_long_lines_of_growing_and_shrinking_length() -> None:
    from agentlytics.fingerprints._native import scan_hunks

    contents = [("x" * n + " y") for n in (10, 5000, 20000, 4070, 9000, 3, 4)]
    hunk = "@@ -1 +1 @@\n" + "".join(f"+{c}\n" for c in contents)
    _, _, hashes = scan_hunks(hunk, 0, len(hunk), True)
    assert hashes == [line_hash(c) for c in contents]


@needs_native
def test_native_scans_only_the_given_span() -> None:
    from agentlytics.fingerprints._native import scan_hunks

    text = "+before\n@@ -1 +1 @@\n+inside line\n-gone\n+tail"
    start = text.index("@@")
    # "+tail" cut to "+ta": still an added line, but too short to fingerprint
    assert scan_hunks(text, start, len(text) - 2, True) == (2, 1, [line_hash("inside line")])
    assert scan_hunks(text, start, start, True) == (0, 0, [])


@needs_native
def test_native_rejects_bad_arguments() -> None:
    from agentlytics.fingerprints._native import scan_hunks

    with pytest.raises(ValueError, match="ASCII"):
        scan_hunks("@@ \n+é ok\n", 0, 5, True)
    with pytest.raises(ValueError, match="start"):
        scan_hunks("@@ \n", 0, 99, True)
    with pytest.raises(ValueError, match="start"):
        scan_hunks("@@ \n", 3, 2, True)
    with pytest.raises(TypeError):
        scan_hunks(b"@@ \n", 0, 1, True)  # type: ignore[arg-type]


def test_public_function_sends_only_ascii_diffs_to_the_native_scanner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def spy(diff: str, start: int, end: int, fingerprint: bool) -> tuple[int, int, list[str]]:
        calls.append(end - start)
        return (0, 0, [])

    monkeypatch.setattr(diff_module, "_scan_hunks", spy)
    ascii_diff = "+++ b/x.py\n@@ -1 +1 @@\n+value = 1\n"
    assert fingerprint_unified_diff(ascii_diff) == DiffFingerprints(0, 0, [])  # the spy's
    assert calls == [len(ascii_diff) - ascii_diff.index("@@")]
    assert fingerprint_unified_diff(ascii_diff + "+é = 2\n").added == 2  # Python path
    assert len(calls) == 1
    monkeypatch.setattr(diff_module, "_scan_hunks", None)
    assert fingerprint_unified_diff(ascii_diff).added == 1
    assert len(calls) == 1
