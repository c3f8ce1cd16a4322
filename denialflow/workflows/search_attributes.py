"""Search attributes the claim workflow keeps current, so operators can list claims by
status and payer in the Temporal UI. They hold no PHI."""

from temporalio.common import SearchAttributeKey

STATUS_ATTR = SearchAttributeKey.for_keyword("ClaimStatus")
PAYER_ATTR = SearchAttributeKey.for_keyword("ClaimPayer")
SEARCH_ATTRIBUTES = {STATUS_ATTR.name: "Keyword", PAYER_ATTR.name: "Keyword"}
