from __future__ import annotations

import timeit
from decimal import Decimal

import pytest
from edi_samples import interchange, path, text

from denialflow.edi.errors import X12Error
from denialflow.edi.tokenizer import read_delimiters, read_x12, tokenize
from denialflow.edi.x835 import parse_835

MEDICARE = "835_lfh_medicare-part-a.835"
MANAGED = "835_lfh_managed-care.835"


def test_error_reads_as_one_line_with_file_and_segment() -> None:
    error = X12Error("remit.835", 14, "SE", "SE01 says 12 segments, counted 13")
    assert str(error) == "remit.835: segment 14 (SE): SE01 says 12 segments, counted 13"
    assert (error.file, error.segment_number, error.segment_id) == ("remit.835", 14, "SE")


def test_delimiters_come_from_isa_positions() -> None:
    d = read_delimiters(text("277CA_ims_rejected.txt"))
    assert (d.element, d.repetition, d.component, d.segment) == ("*", "^", "|", "~")
    assert read_delimiters(text("835_keiron_uhc_legacy_sample.txt")).component == ">"
    # ISA11 "U" is the 4010 standards id, not a repetition separator.
    assert read_delimiters(text("837P_ims_820claims_large.txt")).repetition == ""


def test_transaction_boundaries_and_file_positions() -> None:
    doc = read_x12(path("835_keiron_emedny_sample.txt"))
    (interchange_,) = doc.interchanges
    assert interchange_.control_number == "006000600"
    assert interchange_.sender == "EMEDNYBAT"
    (group,) = interchange_.groups
    assert (group.functional_id, group.control_number, group.version) == (
        "HP",
        "6000600",
        "005010X221A1",
    )
    (tx,) = group.transactions
    assert (tx.set_id, tx.control_number, tx.first_segment) == ("835", "1740", 3)
    assert len(tx.segments) == 65  # SE01
    assert tx.segments[1][:3] == ["BPR", "I", "45.75"]
    assert tx.segments[-1] == ["SE", "65", "1740"]


def _translate(source: str, table: dict[str, str]) -> str:
    # The samples use these characters only as delimiters, so a 1:1 swap keeps
    # the fixed-width ISA intact and yields the same interchange.
    for new in table.values():
        assert new not in source, new
    return source.translate(str.maketrans(table))


VARIANTS = {
    "pipe elements, newline terminator": lambda s: _translate(
        s.replace("\n", ""), {"*": "|", ":": ">", "~": "\n", "^": "!"}
    ),
    "CRLF after terminators": lambda s: s.replace("~\n", "~\r\n"),
    "CR as terminator": lambda s: s.replace("~\n", "\r").replace("~", "\r"),
    "CRLF as terminator": lambda s: s.replace("~\n", "\r\n").replace("~", "\r\n"),
    "LF as terminator": lambda s: s.replace("~\n", "\n").replace("~", "\n"),
    "single line": lambda s: s.replace("\n", ""),
    "BOM and indentation": lambda s: "\ufeff  \n" + s.replace("~\n", "~\n    "),
    "blank lines and trailing spaces": lambda s: s.replace("~\n", "~  \n\n\t"),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_delimiter_and_whitespace_variants_read_the_same(variant: str) -> None:
    original = text(MEDICARE)
    changed = VARIANTS[variant](original)
    assert changed != original
    expected = parse_835(tokenize(original).transactions[0])
    (tx,) = tokenize(changed, "variant.835").transactions
    assert tx.first_segment == 3
    got = parse_835(tx)
    assert got.model_dump() == expected.model_dump()
    assert got.provider_adjustments[0].reason == "CV"
    assert str(got.provider_adjustments[0].amount) == "-1.27"


def test_bom_in_bytes_is_dropped(tmp_path) -> None:
    file = tmp_path / "bom.835"
    file.write_bytes(b"\xef\xbb\xbf" + path(MEDICARE).read_bytes())
    assert read_x12(file).transactions[0].set_id == "835"


def test_several_interchanges_with_different_delimiters() -> None:
    first = text(MEDICARE)  # component ':'
    second = text("999_ims_rejected.txt")  # component '|'
    third = _translate(text(MANAGED), {"*": "|", ":": ">", "^": "!"})  # element '|'
    doc = tokenize(first + second + "\n" + third, "three.x12")
    assert [i.control_number for i in doc.interchanges] == ["000000907", "095832987", "000000907"]
    kinds = [(t.set_id, t.control_number, t.first_segment) for t in doc.transactions]
    # Positions keep counting across interchanges: 32 + 11 segments precede the third.
    assert kinds == [("835", "1234", 3), ("999", "95832987", 35), ("835", "112233", 46)]
    assert doc.transactions[1].delimiters.component == "|"
    assert doc.transactions[2].delimiters.element == "|"
    assert (
        parse_835(doc.transactions[2]).payment.amount
        == parse_835(tokenize(text(MANAGED)).transactions[0]).payment.amount
    )


def test_later_interchange_with_another_terminator() -> None:
    first = text("835_keiron_emedny_sample.txt")  # '~' with no newlines
    second = text(MANAGED).replace("~\n", "\n").replace("~", "\n")  # newline terminated
    doc = tokenize(first + "\n" + second)
    assert [t.control_number for t in doc.transactions] == ["1740", "112233"]
    assert doc.transactions[1].delimiters.segment == "\n"
    assert doc.transactions[1].first_segment == 65 + 4 + 3
    assert parse_835(doc.transactions[1]).balanced


def test_several_groups_and_transactions_in_one_interchange() -> None:
    lines = text(MANAGED).splitlines()
    body = lines[2:-2]  # ST..SE
    second_st = [s.replace("112233", "112234") for s in body]
    doc_text = "\n".join(
        [
            lines[0],
            lines[1],
            *body,
            *second_st,
            "GE*2*1~",
            "GS*HP*A*B*20131031*1147*2*X*005010X221A1~",
        ]
        + body
        + ["GE*1*2~", "IEA*2*000000907~"]
    )
    doc = tokenize(doc_text)
    groups = doc.interchanges[0].groups
    assert [len(g.transactions) for g in groups] == [2, 1]
    assert [t.control_number for t in doc.transactions] == ["112233", "112234", "112233"]


def _mutate(old: str, new: str) -> str:
    source = text(MANAGED)
    assert old in source
    return source.replace(old, new)


ENVELOPE_ERRORS = [
    ("SE*26*112233~", "SE*25*112233~", 28, "SE", "SE01 says 25 segments, counted 26"),
    ("SE*26*112233~", "SE*26*112299~", 28, "SE", "SE02 '112299' does not match ST02 '112233'"),
    ("GE*1*1~", "GE*2*1~", 29, "GE", "GE01 says 2 transaction sets, counted 1"),
    ("GE*1*1~", "GE*1*7~", 29, "GE", "GE02 '7' does not match GS06 '1'"),
    (
        "IEA*1*000000907~",
        "IEA*3*000000907~",
        30,
        "IEA",
        "IEA01 says 3 functional groups, counted 1",
    ),
    ("IEA*1*000000907~", "IEA*1*000000908~", 30, "IEA", "IEA02 '000000908' does not match ISA13"),
    ("SE*26*112233~\n", "", 28, "GE", "GE before SE closed transaction '112233'"),
    ("GE*1*1~\n", "GE*1*1~\nREF*EV*X~\n", 30, "REF", "segment outside a functional group"),
    ("IEA*1*000000907~", "", 29, "GE", "no IEA"),
    ("SE*26*112233~", "SE*2X*112233~", 28, "SE", "SE01 '2X' is not a number"),
]


@pytest.mark.parametrize(("old", "new", "number", "sid", "message"), ENVELOPE_ERRORS)
def test_envelope_errors_name_the_segment(
    old: str, new: str, number: int, sid: str, message: str
) -> None:
    with pytest.raises(X12Error) as caught:
        tokenize(_mutate(old, new), "remit.835")
    error = caught.value
    assert (error.segment_number, error.segment_id) == (number, sid)
    assert str(error).startswith(f"remit.835: segment {number} ({sid}): ")
    assert message in str(error)


def test_real_277_with_wrong_iea02() -> None:
    with pytest.raises(X12Error) as caught:
        read_x12(path("277_ims_x212_multi.txt"))
    assert str(caught.value).endswith(
        "277_ims_x212_multi.txt: segment 111 (IEA): "
        "IEA02 '842928883' does not match ISA13 '000000001'"
    )


def test_lenient_mode_keeps_count_mismatches_as_warnings() -> None:
    doc = read_x12(path("837P_ims_820claims_large.txt"), strict=False)
    assert doc.warnings == [
        f"{path('837P_ims_820claims_large.txt')}: segment 11488 (SE): "
        "SE01 says 25 segments, counted 11486"
    ]
    assert len(doc.transactions[0].segments) == 11486
    with pytest.raises(X12Error, match="segment 11488 \\(SE\\): SE01 says 25"):
        read_x12(path("837P_ims_820claims_large.txt"))


def test_lenient_mode_still_rejects_broken_nesting() -> None:
    with pytest.raises(X12Error, match="GE before SE"):
        tokenize(_mutate("SE*26*112233~\n", ""), strict=False)


@pytest.mark.parametrize(
    ("content", "number", "message"),
    [
        ("hello world", 1, "expected ISA: not an X12 interchange"),
        ("", 1, "empty file"),
        ("ISA*00*short~GS*HP~", 1, "shorter than 106"),
        ("ISA*00**00*" + "x" * 120, 1, "not fixed width"),
    ],
)
def test_not_x12(content: str, number: int, message: str) -> None:
    with pytest.raises(X12Error, match=message) as caught:
        tokenize(content, "junk.txt")
    assert caught.value.segment_number == number


def test_built_interchange_round_trips() -> None:
    doc = tokenize(interchange("999", ["AK1*HC*1*005010X222A1", "AK9*A*1*1*1"], "005010X231A1"))
    (tx,) = doc.transactions
    assert [s[0] for s in tx.segments] == ["ST", "AK1", "AK9", "SE"]


def test_tokenize_speed_is_near_a_plain_split() -> None:
    # A loose guard (the target is 1.5x): a per-character loop would be 10x or
    # worse; the wide margin keeps a busy machine from failing the build.
    source = text("837P_ims_820claims_large.txt")
    plain, ours = [], []
    for _ in range(7):  # interleaved, so a burst of load hits both sides
        plain.append(timeit.timeit(lambda: [s.split("*") for s in source.split("~")], number=2))
        ours.append(timeit.timeit(lambda: tokenize(source, strict=False), number=2))
    assert min(ours) < 5 * min(plain)


@pytest.mark.parametrize("variant", ["pipe elements, newline terminator", "CRLF as terminator"])
def test_built_variants_are_valid_x12_for_pyx12_too(tmp_path, variant: str) -> None:
    # Guards the fixtures themselves: the rewritten files must still be X12 that an
    # independent validator accepts, or the variant tests would prove nothing.
    x12n_document = pytest.importorskip("pyx12.x12n_document")
    params = pytest.importorskip("pyx12.params")
    original = text("835_keiron_emedny_sample.txt")
    file = tmp_path / "variant.835"
    file.write_text(VARIANTS[variant](original), newline="")
    assert x12n_document.x12n_document(
        param=params.params(),
        src_file=str(file),
        fd_997=None,
        fd_html=None,
        fd_xmldoc=None,
        xslt_files=None,
    )
    ours = parse_835(read_x12(file).transactions[0])
    assert ours.model_dump() == parse_835(tokenize(original).transactions[0]).model_dump()
    assert ours.payment.amount == Decimal("45.75") and len(ours.claims) == 3
