"""Any input gives a parsed result or an X12Error, never another exception, a hang or
runaway memory: property-based tests over the tokenizer and every reader, and a seeded
mutation fuzzer over the sample files in tests/data/x12.

Bounded for CI (a few seconds on two cores): fixed examples counts, derandomized
hypothesis, a fixed fuzzer seed, and an alarm that fails a test instead of hanging it.
"""

from __future__ import annotations

import random
import signal
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from edi_samples import COB_TERTIARY_837P, DATA, interchange
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from denialflow.edi import X12Error, parse_document, tokenize
from denialflow.edi.jsonview import transaction_json
from denialflow.edi.tokenizer import decode

NAME = "fuzz.x12"
BOUNDED = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,  # wall time on a shared CI box says nothing; the alarm catches hangs
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise Hang in the main thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_any(data: bytes | str, *, strict: bool = True) -> bool:
    """True when `data` parsed; False when it raised a well-formed X12Error. Anything
    else propagates and fails the test."""
    source = decode(data) if isinstance(data, bytes) else data
    try:
        parsed = parse_document(tokenize(source, NAME, strict=strict), eligibility=True)
    except X12Error as error:
        message = str(error)
        assert error.file == NAME and error.segment_number >= 1, message
        assert message.startswith(f"{NAME}: segment {error.segment_number} ("), message
        assert "\n" not in message and len(message) < 500, message
        return False
    for transaction in parsed:
        transaction_json(transaction)  # the result is whole: it serializes
    return True


# ---- property-based tests -------------------------------------------------------------

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*240110*1200*^*00501*000000001*0*T*:~"
)
NUMBERS = [
    "0",
    "1",
    "-1",
    "10.00",
    "99999999.99",
    "100000000",
    "1.005",
    "1" * 27,
    "9" * 5000,
    "1E+30",
    "NaN",
    "\u0661",
    "\u00b2",
    ".",
    "-",
]
CODES = [
    "QC",
    "IL",
    "PR",
    "PE",
    "85",
    "1P",
    "41",
    "XX",
    "MI",
    "PI",
    "HC",
    "N4",
    "B6",
    "HE",
    "CO",
    "OA",
    "45",
    "2",
    "1",
    "4",
    "22",
    "23",
    "20",
    "21",
    "19",
    "PT",
    "D8",
    "RD8",
    "472",
    "434",
    "232",
    "233",
    "050",
    "405",
    "150",
    "151",
    "2U",
    "TJ",
    "F8",
    "6R",
    "FJ",
    "1K",
    "D9",
    "EJ",
    "BLT",
    "A1",
    "A7",
    "WQ",
    "U",
    "20240101",
    "20240101-20240131",
    "2024013",
    "HC:99213:25",
    "A7:562:85",
    "573",
    "EAF",
    "A8",
    "MB",
    "HC:36415",
    "P",
    "S",
    "T",
    "D",
    "PRIME1",
    "WO:X",
    "11:B:1",
    "ABK:R69",
    "1:2",
    "1:2:3:4:5",
    "::",
    "R",
    "E",
    "A",
    # eligibility (270/271): EB01 kinds, coverage levels, periods, AAA reasons, DTP, Y/N
    "6",
    "B",
    "C",
    "L",
    "IND",
    "FAM",
    "30",
    "30^1^98",
    "27",
    "29",
    "VS",
    "72",
    "75",
    "346",
    "347",
    "291",
    "307",
    "03",
    "P3",
    "Y",
    "N",
    "W",
]
# What the probe that found the original crashes used, given more weight in the edits.
PROBE = st.sampled_from(["1" * 27, "9" * 5000, "1E+30", "NaN", "\u00b2", "1.005"])
number = st.one_of(
    st.sampled_from(NUMBERS),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
element = st.one_of(
    st.sampled_from(NUMBERS),
    st.sampled_from(CODES),
    st.text(st.characters(codec="latin-1", exclude_characters="*~\r\n"), max_size=12),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)

READERS = {
    "835": ("005010X221A1", "BPR TRN N1 REF LX CLP NM1 CAS MOA MIA DTM SVC AMT LQ PLB"),
    "837P": ("005010X222A1", "BHT HL SBR NM1 DMG N3 N4 PAT CLM HI LX SV1 DTP REF"),
    "837I": ("005010X223A2", "BHT HL SBR NM1 DMG N3 N4 PAT CLM HI LX SV2 DTP REF"),
    # Coordination of benefits: 2320/2330 other payers and 2430 line adjudication.
    "837P-COB": ("005010X222A1", "HL SBR CAS AMT OI NM1 DTP REF CLM LX SV1 SVD LQ"),
    "277CA": ("005010X214", "BHT HL NM1 TRN STC REF SVC DTP QTY AMT"),
    "277": ("005010X212", "BHT HL NM1 TRN STC REF SVC DTP"),
    "999": ("005010X231A1", "AK1 AK2 IK3 IK4 IK5 AK9 CTX"),
    "276": ("005010X212", "BHT HL NM1 TRN REF AMT DTP"),  # no reader: must say so, not fail
    "270": ("005010X279A1", "BHT HL NM1 TRN REF DMG INS DTP EQ"),
    "271": ("005010X279A1", "BHT HL NM1 TRN REF DMG INS DTP EB MSG AAA LS LE"),
}


def segments(ids: str) -> st.SearchStrategy[list[str]]:
    segment = st.builds(
        lambda sid, elements: "*".join([sid, *elements]),
        st.sampled_from(ids.split()),
        st.lists(element, max_size=14),
    )
    return st.lists(segment, max_size=25)


def transaction(kind: str) -> st.SearchStrategy[str]:
    version, ids = READERS[kind]
    set_id = kind[:3]
    return segments(ids).map(lambda body: interchange(set_id, body, version))


@BOUNDED
@given(st.text(max_size=300))
def test_any_text_is_read_or_refused(source: str) -> None:
    with time_limit(10):
        read_any(source)
        read_any(source, strict=False)


@BOUNDED
@given(st.binary(max_size=300))
def test_any_bytes_are_read_or_refused(data: bytes) -> None:
    with time_limit(10):
        read_any(data)


@BOUNDED
@given(st.text(st.characters(codec="latin-1"), max_size=400))
def test_any_tail_after_a_good_isa_is_read_or_refused(tail: str) -> None:
    with time_limit(10):
        read_any(ISA + tail)
        read_any(ISA + tail, strict=False)


@settings(BOUNDED, max_examples=100)
@given(st.sampled_from(sorted(READERS)).flatmap(transaction))
def test_every_reader_takes_any_segments_in_a_good_envelope(source: str) -> None:
    with time_limit(10):
        read_any(source)


def _body(sample: str) -> list[str]:
    """The segments strictly between ST and SE of a sample file, terminator removed."""
    text = (DATA / sample).read_text(encoding="ascii")
    terminator = text[105]
    found = [s.strip() for s in text.split(terminator) if s.strip()]
    st_at = next(i for i, s in enumerate(found) if s.startswith("ST" + text[3]))
    se_at = next(i for i, s in enumerate(found) if s.startswith("SE" + text[3]))
    return [s.replace(text[3], "*") for s in found[st_at + 1 : se_at]]


# A good transaction of each kind, so edits reach deep into a reader's state (a claim
# open, a line open) instead of stopping at "CAS outside a claim".
TEMPLATES = {
    "835": [
        "BPR*I*10.00*C*ACH*CCP*01*1*DA*1*1**01*1*DA*1*20240110",
        "TRN*1*T1*1",
        "DTM*405*20240110",
        "N1*PR*PAYER",
        "REF*2U*P1",
        "N1*PE*PRACTICE*XX*1234567893",
        "REF*TJ*123456789",
        "LX*1",
        "CLP*A1*1*10.00*10.00*0*12*ICN*11*1",
        "CAS*CO*45*0*1",
        "NM1*QC*1*DOE*JANE****MI*M1",
        "MIA*0***0",
        "MOA***MA01",
        "DTM*232*20240101",
        "SVC*HC:99213:25*10.00*10.00**1*HC:99212*1",
        "DTM*472*20240101",
        "CAS*CO*45*0",
        "REF*6R*L1",
        "AMT*B6*10.00",
        "LQ*HE*N1",
        "PLB*1234567893*20241231*WO:X*0",
    ],
    "837P": _body("837P_lfh_tr3-example1.837"),
    "837I": _body("837I_lfh_institutional-claim.837i"),
    "837P-COB": COB_TERTIARY_837P,
    "277CA": _body("277CA_ims_rejected.txt"),
    "277": _body("277_lfh_claim-level-status.277"),
    "999": _body("999_ims_rejected.txt"),
    "276": _body("276_lfh_claim-level-status.276"),
    "270": _body("270_lfh_subscriber-benefit-check.270"),
    # The sample plus a dependent, a rejection, benefit dates and a message.
    "271": [
        *_body("271_lfh_subscriber-benefit-check.271"),
        "EB*C*IND*30*HM**29*250.50*0.2*VS*3*Y*N*HC:99213",
        "DTP*348*RD8*20060101-20061231",
        "MSG*FREE TEXT",
        "AAA*Y**42*R",
        "HL*4*3*23*0",
        "TRN*2*T-2*1123456789",
        "NM1*03*1*SMITH*TED",
        "INS*N*19",
        "DTP*307*D8*20060501",
        "AAA*N**75*C",
        "EB*6**30",
    ],
}


@st.composite
def edited_transaction(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(sorted(READERS)))
    version, ids = READERS[kind]
    body = [s.split("*") for s in TEMPLATES[kind]]
    for _ in range(draw(st.integers(1, 6))):
        seg = body[draw(st.integers(0, len(body) - 1))]
        # Mostly an element the segment has (those are the ones a reader looks at).
        at = draw(st.integers(1, max(1, len(seg) - 1)) | st.integers(1, 16))
        seg.extend([""] * (at + 1 - len(seg)))
        seg[at] = draw(PROBE | number | element)
    for _ in range(draw(st.integers(0, 2))):
        extra = draw(st.sampled_from(ids.split()))
        extra_elements = draw(st.lists(element, max_size=10))
        body.insert(draw(st.integers(0, len(body))), [extra, *extra_elements])
    for _ in range(draw(st.integers(0, 2))):
        if len(body) > 1:
            del body[draw(st.integers(0, len(body) - 1))]
    return interchange(kind[:3], ["*".join(seg) for seg in body], version)


@settings(BOUNDED, max_examples=300)
@given(edited_transaction())
def test_every_reader_takes_edits_to_a_good_transaction(source: str) -> None:
    with time_limit(10):
        read_any(source)
        read_any(source, strict=False)


@settings(BOUNDED, max_examples=60)
@given(
    st.sampled_from(sorted(READERS)).flatmap(transaction),
    st.sampled_from(["*", "~", ":", "^", "|", "\n", "ISA*", "SE*1*1~", "GE*1*1~", "IEA*1*1~"]),
    st.integers(0, 5000),
)
def test_separators_and_envelopes_dropped_into_a_reader_input(
    source: str, insert: str, at: int
) -> None:
    at %= len(source) + 1
    with time_limit(10):
        read_any(source[:at] + insert + source[at:])
        read_any(source[:at] + insert + source[at:], strict=False)


# ---- seeded mutation fuzzer over the sample files -------------------------------------

MUTATIONS = 3000
SEED = 12
# The 330 KB volume file would make each mutation cost as much as all the others together.
SAMPLES = sorted(
    p.read_bytes() for p in DATA.iterdir() if p.name != "MANIFEST.txt" if p.stat().st_size < 20_000
)
HUGE = [
    b"9" * 27,
    b"9" * 5000,
    b"1E+999999",
    b"NaN",
    b"-0",
    b"99999999.995",
    b"100000000",
    b"\xd9\xa1",
    b"\xb2",
    b"",
    b"1.",
    b".5",
    b"-",
    b"\x00",
    b"~",
    b"*",
    b":",
    b"^",
    b"|",
    b"\r\n",
    b"ISA",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One random edit: a byte flipped, inserted or deleted; a segment duplicated,
    dropped or swapped; an element replaced by a huge number or a separator."""
    kind = rng.randrange(8)
    if kind < 3:
        b = bytearray(data)
        i = rng.randrange(len(b) + 1)
        if kind == 0 and i < len(b):
            b[i] = rng.randrange(256)
        elif kind == 1:
            b[i:i] = bytes([rng.randrange(256)])
        elif i < len(b):
            del b[i]
        return bytes(b)
    terminator = b"~" if b"~" in data else data[105:106] or b"~"
    segs = data.split(terminator)
    i, j = rng.randrange(len(segs)), rng.randrange(len(segs))
    if kind == 3:
        segs.insert(i, segs[i])
    elif kind == 4 and len(segs) > 1:
        del segs[i]
    elif kind == 5:
        segs[i], segs[j] = segs[j], segs[i]
    else:
        elements = segs[i].split(b"*")
        k = rng.randrange(len(elements))
        elements[k] = rng.choice(HUGE) if kind == 6 else elements[k] * rng.randrange(2, 50)
        segs[i] = b"*".join(elements)
    return terminator.join(segs)


def test_seeded_mutations_of_the_samples_are_read_or_refused() -> None:
    rng = random.Random(SEED)
    outcomes = {True: 0, False: 0}
    slowest = 0.0
    with time_limit(120):
        for n in range(MUTATIONS):
            data = rng.choice(SAMPLES)
            for _ in range(rng.randrange(1, 4)):
                data = mutate(rng, data)
            started = time.perf_counter()
            strict = n % 2 == 0
            if n % 100 == 0:
                # Memory in proportion to the input: a number must never size a buffer.
                tracemalloc.start()
                try:
                    outcomes[read_any(data, strict=strict)] += 1
                    _, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                assert peak < 1_000_000 + 200 * len(data), (n, peak, len(data))
            else:
                outcomes[read_any(data, strict=strict)] += 1
            slowest = max(slowest, time.perf_counter() - started)
    # Both outcomes happen, so the fuzzer neither only breaks nor only keeps files intact.
    assert outcomes[True] > MUTATIONS // 20 and outcomes[False] > MUTATIONS // 20, outcomes
    assert slowest < 5, f"one mutated sample took {slowest:.1f} s"
