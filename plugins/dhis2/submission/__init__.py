"""Submissions: checking aggregate and tracker bodies and turning them into DHIS2 payloads."""
