"""The fake DHIS2's world: credentials and a few uids of the Sierra Leone demo database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TOKEN = "d2pat_fakeTokenForTests0123456789abcdef0000000000"
USERNAME, PASSWORD = "admin", "district"
DEFAULT_COC = "HllvX50cXC0"

DATA_SET = "pBOMPrpg1QX"  # "Reproductive Health"
ANC_1ST = "fbfJHSPpUQD"
ANC_2ND = "cYeuwXTCPkU"
ANC_3RD = "Jtf34kNZhzP"
ANC_REMARKS = "ZZYzWy6Aw8x"  # a TEXT data element
FIXED, OUTREACH = "PT59n8BQbqM", "pq2XI5kz2BY"
NGELEHUN, BO = "DiszpKrYNg8", "O6uvpzGd5pu"
CHILD_PROGRAMME, BIRTH_STAGE = "IpHINAT79UW", "A03MvHHogjR"
PERSON = "nEenWmSyUEp"
WEIGHT = "UXz7xuGCEhU"


@dataclass
class Metadata:
    data_sets: set[str] = field(default_factory=lambda: {DATA_SET})
    # data element → value type
    data_elements: dict[str, str] = field(
        default_factory=lambda: {
            ANC_1ST: "INTEGER",
            ANC_2ND: "INTEGER",
            ANC_3RD: "INTEGER",
            ANC_REMARKS: "TEXT",
            WEIGHT: "NUMBER",
        }
    )
    category_option_combos: set[str] = field(default_factory=lambda: {DEFAULT_COC, FIXED, OUTREACH})
    org_units: set[str] = field(default_factory=lambda: {NGELEHUN, BO})
    programs: set[str] = field(default_factory=lambda: {CHILD_PROGRAMME})
    program_stages: set[str] = field(default_factory=lambda: {BIRTH_STAGE})
    tracked_entity_types: set[str] = field(default_factory=lambda: {PERSON})

    def resource(self, name: str) -> set[str]:
        return {
            "dataSets": self.data_sets,
            "dataElements": set(self.data_elements),
            "categoryOptionCombos": self.category_option_combos,
            "organisationUnits": self.org_units,
            "categoryOptions": set(),
            "categoryCombos": set(),
        }.get(name, set())


PERIOD = re.compile(
    r"^\d{4}(\d{2}(\d{2})?|(0[1-6])B|Q[1-4]|NovQ[1-4]|S[12]|AprilS[12]|NovS[12]|(W|WedW|ThuW|SatW|SunW|BiW)\d{1,2}"
    r"|April|July|Sep|Oct|Nov)?$"
)
