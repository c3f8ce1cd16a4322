from datetime import timedelta

from scrub_samples import SERVICE_DATE, claim, line

from denialflow.scrub import fingerprint


def test_fingerprint_is_a_stable_sha256_hex() -> None:
    value = fingerprint(claim())
    assert len(value) == 64 and int(value, 16) >= 0
    assert fingerprint(claim()) == value


def test_fingerprint_ignores_claim_id_line_order_modifier_order_and_formatting() -> None:
    base = claim(lines=(line(modifiers=("25", "GT")), line(procedure_code="83036")))
    same = claim(
        id="PCN-2002",
        payer_id=" acme01 ",
        member_id="xyz123456789",
        lines=(line(procedure_code="83036"), line(modifiers=("gt", "25"), units="1.00")),
        charge=None,
    )
    assert fingerprint(base) == fingerprint(same)


def test_fingerprint_changes_with_what_makes_a_different_claim() -> None:
    base = fingerprint(claim())
    different = [
        claim(payer_id="OTHER"),
        claim(member_id="XYZ000000000"),
        claim(service_date=SERVICE_DATE + timedelta(days=1)),
        claim(rendering_npi="1993999998"),
        claim(lines=(line(),)),
        claim(lines=(line(charge="126.00"),)),
        claim(lines=(line(units="2"),)),
        claim(lines=(line(modifiers=("25",)),)),
        claim(lines=(line(procedure_code="99214"),)),
    ]
    values = {fingerprint(c) for c in different}
    assert base not in values
    assert len(values) == len(different)


def test_units_ten_and_ten_point_zero_match() -> None:
    assert fingerprint(claim(lines=(line(units="10"),))) == fingerprint(
        claim(lines=(line(units="10.0"),))
    )
