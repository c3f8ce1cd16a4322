"""CMS place-of-service codes (public CMS data), with our own short names.

Codes missing from the table (28-30, 35-40, 43-48, 59, 63-64, 67-70, 73-80,
82-98, and 00) are unassigned: a payer rejects them. Codes added in recent
years carry the first date of service they may be used for.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class PlaceOfService(NamedTuple):
    name: str
    effective_from: date | None = None


PLACES_OF_SERVICE: dict[str, PlaceOfService] = {
    "01": PlaceOfService("Pharmacy"),
    "02": PlaceOfService("Telehealth, patient not at home", date(2017, 1, 1)),
    "03": PlaceOfService("School"),
    "04": PlaceOfService("Homeless shelter"),
    "05": PlaceOfService("Indian Health Service, free-standing"),
    "06": PlaceOfService("Indian Health Service, provider-based"),
    "07": PlaceOfService("Tribal 638, free-standing"),
    "08": PlaceOfService("Tribal 638, provider-based"),
    "09": PlaceOfService("Prison or correctional facility"),
    "10": PlaceOfService("Telehealth, patient at home", date(2022, 1, 1)),
    "11": PlaceOfService("Office"),
    "12": PlaceOfService("Patient's home"),
    "13": PlaceOfService("Assisted living"),
    "14": PlaceOfService("Group home"),
    "15": PlaceOfService("Mobile unit"),
    "16": PlaceOfService("Temporary lodging"),
    "17": PlaceOfService("Walk-in retail clinic"),
    "18": PlaceOfService("Place of employment or worksite"),
    "19": PlaceOfService("Outpatient hospital, off campus", date(2016, 1, 1)),
    "20": PlaceOfService("Urgent care"),
    "21": PlaceOfService("Inpatient hospital"),
    "22": PlaceOfService("Outpatient hospital, on campus"),
    "23": PlaceOfService("Hospital emergency room"),
    "24": PlaceOfService("Ambulatory surgical center"),
    "25": PlaceOfService("Birthing center"),
    "26": PlaceOfService("Military treatment facility"),
    "27": PlaceOfService("Outreach site or street", date(2023, 10, 1)),
    "31": PlaceOfService("Skilled nursing facility"),
    "32": PlaceOfService("Nursing facility"),
    "33": PlaceOfService("Custodial care facility"),
    "34": PlaceOfService("Hospice"),
    "41": PlaceOfService("Ambulance, land"),
    "42": PlaceOfService("Ambulance, air or water"),
    "49": PlaceOfService("Independent clinic"),
    "50": PlaceOfService("Federally qualified health center"),
    "51": PlaceOfService("Inpatient psychiatric facility"),
    "52": PlaceOfService("Psychiatric partial hospitalization"),
    "53": PlaceOfService("Community mental health center"),
    "54": PlaceOfService("Intermediate care facility for intellectual disabilities"),
    "55": PlaceOfService("Residential substance use treatment"),
    "56": PlaceOfService("Psychiatric residential treatment"),
    "57": PlaceOfService("Non-residential substance use treatment"),
    "58": PlaceOfService("Non-residential opioid treatment", date(2020, 1, 1)),
    "60": PlaceOfService("Mass immunization center"),
    "61": PlaceOfService("Inpatient rehabilitation facility"),
    "62": PlaceOfService("Outpatient rehabilitation facility"),
    "65": PlaceOfService("Dialysis (end-stage renal disease) facility"),
    "66": PlaceOfService("PACE center", date(2024, 8, 1)),
    "71": PlaceOfService("Public health clinic"),
    "72": PlaceOfService("Rural health clinic"),
    "81": PlaceOfService("Independent laboratory"),
    "99": PlaceOfService("Other place of service"),
}
