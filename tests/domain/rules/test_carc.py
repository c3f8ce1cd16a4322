from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from denialflow.domain.rules.carc import (
    CATEGORY_DEFAULTS,
    KNOWN_CODES,
    QUEUES,
    ReasonRoute,
    load_reason_descriptions,
    normalize_code,
    primary_reason,
    route,
)
from denialflow.domain.types import AdjustmentGroup, AdjustmentIn, DenialCategory

C = DenialCategory

# Every row of the CARC table in DOMAIN.md.
DOMAIN_ROWS = [
    ("CO", "4", C.CODING, "coding"),
    ("CO", "11", C.CODING, "coding"),
    ("CO", "16", C.MISSING_INFORMATION, "follow-up"),
    ("CO", "18", C.DUPLICATE, "follow-up"),
    ("OA", "18", C.DUPLICATE, "follow-up"),
    ("CO", "22", C.COORDINATION_OF_BENEFITS, "cob"),
    ("CO", "27", C.ELIGIBILITY, "eligibility"),
    ("CO", "29", C.TIMELY_FILING, "follow-up"),
    ("CO", "45", C.CONTRACTUAL, "contractual"),
    ("CO", "50", C.MEDICAL_NECESSITY, "clinical"),
    ("CO", "96", C.ELIGIBILITY, "eligibility"),
    ("CO", "204", C.ELIGIBILITY, "eligibility"),
    ("CO", "97", C.BUNDLING, "coding"),
    ("CO", "109", C.ELIGIBILITY, "eligibility"),
    ("CO", "119", C.ELIGIBILITY, "eligibility"),
    ("CO", "151", C.MEDICAL_NECESSITY, "clinical"),
    ("CO", "167", C.CODING, "coding"),
    ("CO", "197", C.AUTHORIZATION, "authorization"),
    ("CO", "236", C.BUNDLING, "coding"),
    ("PR", "1", C.PATIENT_RESPONSIBILITY, "patient"),
    ("PR", "2", C.PATIENT_RESPONSIBILITY, "patient"),
    ("PR", "3", C.PATIENT_RESPONSIBILITY, "patient"),
]

EXPECTED_LIKELIHOOD = {
    C.ELIGIBILITY: "0.45",
    C.AUTHORIZATION: "0.55",
    C.CODING: "0.75",
    C.MEDICAL_NECESSITY: "0.50",
    C.DUPLICATE: "0.20",
    C.TIMELY_FILING: "0.15",
    C.MISSING_INFORMATION: "0.85",
    C.COORDINATION_OF_BENEFITS: "0.70",
    C.BUNDLING: "0.50",
    C.CONTRACTUAL: "0.10",
    C.PATIENT_RESPONSIBILITY: "0.60",
    C.OTHER: "0.50",
}

# Whitespace-separated so the list stays readable; ruff prefers a literal.
BRIEF_CODES = (  # noqa: SIM905
    "1 2 3 4 5 6 9 11 15 16 18 22 24 26 27 29 31 32 35 39 40 45 49 50 55 56 58 59 60 96 97 "
    "107 109 110 115 119 125 129 131 140 146 149 151 155 167 181 182 183 185 189 190 197 198 "
    "199 200 204 208 226 227 234 236 242 252 253 256 A1 B7 B9 B11 B13 B15 B16 B20"
).split()


@pytest.mark.parametrize(("group", "code", "category", "queue"), DOMAIN_ROWS)
def test_domain_table_rows(group: str, code: str, category: DenialCategory, queue: str) -> None:
    found = route(group, code)
    assert found.category is category
    assert found.queue == queue
    assert found.code == code
    assert found.group == group
    assert found.likelihood == CATEGORY_DEFAULTS[category].likelihood
    assert found.next_action


def test_category_defaults() -> None:
    assert set(CATEGORY_DEFAULTS) == set(DenialCategory)
    for category, expected in EXPECTED_LIKELIHOOD.items():
        default = CATEGORY_DEFAULTS[category]
        assert default.likelihood == Decimal(expected)
        assert isinstance(default.likelihood, Decimal)
        assert default.queue in QUEUES
        assert default.next_action
    queues = {category: CATEGORY_DEFAULTS[category].queue for category in DenialCategory}
    assert queues[C.BUNDLING] == queues[C.CODING] == "coding"
    assert queues[C.MEDICAL_NECESSITY] == "clinical"
    assert {queues[C.DUPLICATE], queues[C.MISSING_INFORMATION], queues[C.TIMELY_FILING]} == {
        "follow-up"
    }
    assert queues[C.OTHER] == "follow-up"
    assert set(queues.values()) == QUEUES


def test_category_defaults_unpack_as_tuples() -> None:
    queue, likelihood, action = CATEGORY_DEFAULTS[C.AUTHORIZATION]
    assert (queue, likelihood) == ("authorization", Decimal("0.55"))
    assert action


@pytest.mark.parametrize("code", BRIEF_CODES)
def test_common_codes_are_known(code: str) -> None:
    assert code in KNOWN_CODES
    found = route("CO" if code not in {"1", "2", "3"} else "PR", code)
    assert found.next_action
    assert found.queue in QUEUES


def test_every_known_code_routes_with_its_own_action() -> None:
    generic = {d.next_action for d in CATEGORY_DEFAULTS.values()}
    for code in KNOWN_CODES:
        found = route("OA", code)
        assert found.queue == CATEGORY_DEFAULTS[found.category].queue
        assert found.next_action not in generic or code == "29", code
        assert len(found.next_action) < 200, code


def test_rarc_codes_are_not_in_the_table() -> None:
    assert not any(code.startswith(("N", "M")) for code in KNOWN_CODES)
    assert route("CO", "N130").category is C.OTHER
    assert route("CO", "MA130").category is C.OTHER


@pytest.mark.parametrize(
    ("group", "code", "category"),
    [
        ("PR", "96", C.PATIENT_RESPONSIBILITY),  # non-covered, billed to the patient
        ("CO", "96", C.ELIGIBILITY),
        ("OA", "96", C.ELIGIBILITY),
        ("PR", "50", C.PATIENT_RESPONSIBILITY),
        ("PR", "45", C.PATIENT_RESPONSIBILITY),
        ("PR", "288", C.PATIENT_RESPONSIBILITY),  # unknown code, but the patient owes it
        ("CO", "253", C.CONTRACTUAL),
        ("PI", "45", C.CONTRACTUAL),
        ("CO", "59", C.BUNDLING),
        ("CO", "2", C.CONTRACTUAL),  # the provider absorbs cost share under CO
        ("CO", "1", C.CONTRACTUAL),
        ("OA", "1", C.PATIENT_RESPONSIBILITY),
        ("pr", "2", C.PATIENT_RESPONSIBILITY),  # group case does not matter
        (" co ", "197", C.AUTHORIZATION),
    ],
)
def test_group_code_changes_the_route(group: str, code: str, category: DenialCategory) -> None:
    found = route(group, code)
    assert found.category is category
    assert found.queue == CATEGORY_DEFAULTS[category].queue


def test_pr_with_a_denial_code_gets_a_patient_action() -> None:
    assert route("PR", "96").next_action != route("PR", "1").next_action
    assert "patient" in route("PR", "96").next_action
    assert "may not be billed" in route("CO", "2").next_action


def test_accepts_the_enum_group() -> None:
    assert route(AdjustmentGroup.PR, "3").category is C.PATIENT_RESPONSIBILITY
    assert route(AdjustmentGroup.CO, "45").group == "CO"


@pytest.mark.parametrize(
    ("group", "code"),
    [
        ("CO", "999"),
        ("CO", ""),
        ("", ""),
        ("CO", "   "),
        ("XX", "!!"),
        ("PR", ""),
        ("PR", "9999"),
        ("CO", "CO-45"),
        ("OA", "\x00"),
        ("CO", "1" * 500),
        (None, None),
    ],
)
def test_unknown_and_garbage_codes_route_to_other(group: str, code: str) -> None:
    found = route(group, code)
    assert found.category is C.OTHER
    assert found.queue == "follow-up"
    assert found.next_action == CATEGORY_DEFAULTS[C.OTHER].next_action
    assert found.likelihood == Decimal("0.50")


def test_unknown_group_is_dropped_but_code_still_routes() -> None:
    found = route("ZZ", "197")
    assert found.group == ""
    assert found.category is C.AUTHORIZATION


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" 045 ", "45"), ("b7", "B7"), ("B07", "B7"), ("a1", "A1"), ("000", "0"), ("x y", "X Y")],
)
def test_normalize_code(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


def test_route_normalizes_codes() -> None:
    assert route("co", "045") == route("CO", "45")
    assert route("OA", "b13").category is C.DUPLICATE


def test_reason_route_is_frozen() -> None:
    found = route("CO", "50")
    with pytest.raises(ValidationError):
        found.queue = "coding"  # type: ignore[misc]
    assert found == route("CO", "50")
    assert hash(found) == hash(route("CO", "50"))
    assert isinstance(found, ReasonRoute)


def test_route_serializes_likelihood_as_string() -> None:
    data = route("CO", "197").model_dump(mode="json")
    assert data["likelihood"] == "0.55"
    assert data["category"] == "authorization"


# --- primary_reason ---------------------------------------------------------


def test_primary_reason_picks_the_largest_denial() -> None:
    found = primary_reason(
        [
            ("CO", "45", Decimal("400.00")),
            ("CO", "97", Decimal("50.00")),
            ("CO", "197", Decimal("120.00")),
            ("PR", "1", Decimal("900.00")),
        ]
    )
    assert found is not None
    assert (found.group, found.code, found.category) == ("CO", "197", C.AUTHORIZATION)


def test_primary_reason_adds_up_lines_of_the_same_reason() -> None:
    found = primary_reason(
        [
            ("CO", "97", Decimal("50.00")),
            ("CO", "50", Decimal("80.00")),
            ("CO", "97", Decimal("50.00")),
        ]
    )
    assert found is not None and found.code == "97"


def test_primary_reason_ties_go_to_the_first() -> None:
    found = primary_reason([("CO", "16", Decimal("10")), ("CO", "4", Decimal("10"))])
    assert found is not None and found.code == "16"


@pytest.mark.parametrize(
    "adjustments",
    [
        [],
        [("CO", "45", Decimal("10"))],
        [("CO", "45", Decimal("10")), ("CO", "253", Decimal("2")), ("PR", "2", Decimal("5"))],
        [("PR", "96", Decimal("100")), ("CO", "2", Decimal("5")), ("OA", "23", Decimal("7"))],
    ],
)
def test_primary_reason_none_without_a_denial(adjustments: list) -> None:
    assert primary_reason(adjustments) is None


def test_primary_reason_includes_unknown_codes() -> None:
    found = primary_reason([("CO", "45", Decimal("10")), ("CO", "777", Decimal("1"))])
    assert found is not None and found.category is C.OTHER and found.code == "777"


def test_primary_reason_accepts_adjustment_models_and_loose_amounts() -> None:
    adjustments = [
        AdjustmentIn(group=AdjustmentGroup.CO, reason="45", amount="300.00"),
        AdjustmentIn(group=AdjustmentGroup.CO, reason="50", amount="75.00"),
        AdjustmentIn(group=AdjustmentGroup.OA, reason="18", amount="20.00"),
    ]
    found = primary_reason(adjustments)
    assert found is not None and found.code == "50"
    loose = primary_reason([("CO", "18", "20"), ("CO", "16", 30), ("CO", "4", "bad")])
    assert loose is not None and loose.code == "16"


def test_primary_reason_rejects_malformed_items() -> None:
    with pytest.raises(TypeError):
        primary_reason([("CO", "45")])


# --- load_reason_descriptions -----------------------------------------------


def write(tmp_path: Path, text: str, name: str = "carc.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_loader_reads_csv_with_header(tmp_path: Path) -> None:
    path = write(tmp_path, 'code,description\n45,"Text one, with a comma"\nB7,Text two\n')
    assert load_reason_descriptions(path) == {"45": "Text one, with a comma", "B7": "Text two"}


def test_loader_reads_csv_without_header_and_normalizes(tmp_path: Path) -> None:
    path = write(tmp_path, "\n045 , Text one \n\nb07,Text two\n")
    assert load_reason_descriptions(str(path)) == {"45": "Text one", "B7": "Text two"}


def test_loader_reads_tab_separated_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffCode\tDescription\n16\tText, with comma\n", name="carc.tsv")
    assert load_reason_descriptions(path) == {"16": "Text, with comma"}


def test_loader_uses_header_columns_and_ignores_extras(tmp_path: Path) -> None:
    text = "Start,Code,Description,Notes\n2001-01-01,4,Text four,x\n2001-01-01,5,Text five,\n"
    assert load_reason_descriptions(write(tmp_path, text)) == {"4": "Text four", "5": "Text five"}


def test_loader_tolerates_padded_rows(tmp_path: Path) -> None:
    assert load_reason_descriptions(write(tmp_path, "4,Text four,,\n")) == {"4": "Text four"}


def test_loader_keeps_multiline_quoted_descriptions(tmp_path: Path) -> None:
    path = write(tmp_path, 'code,description\n4,"line one\nline two"\n5,"oops\n')
    with pytest.raises(ValueError, match=r"line 4"):
        load_reason_descriptions(path)
    path = write(tmp_path, 'code,description\n4,"line one\nline two"\n5,ok\n')
    assert load_reason_descriptions(path)["4"] == "line one\nline two"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("code,description\n45,ok\n46,a,b\n", 3, "expected 2 columns"),
        ("code,description\n45,ok\n\n46\n", 4, "expected 2 columns"),
        ("45,ok\nN130,remark\n", 2, "not a reason code"),
        ("45,ok\n,no code\n", 2, "not a reason code"),
        ("45,ok\n46,\n", 2, "no description"),
        ("45,ok\n46,x\n045,again\n", 3, "already defined on line 1"),
    ],
)
def test_loader_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as caught:
        load_reason_descriptions(path)
    assert str(caught.value).startswith(f"{path}: line {line}: ")


def test_loader_unquoted_comma_hint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quote descriptions"):
        load_reason_descriptions(write(tmp_path, "45,text, with comma\n"))


def test_loader_rejects_empty_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no reason codes"):
        load_reason_descriptions(write(tmp_path, "code,description\n\n"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_reason_descriptions(write(tmp_path, "45,caf\u00e9\n", encoding="latin-1"))


def test_loader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_reason_descriptions(tmp_path / "absent.csv")
