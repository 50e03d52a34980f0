"""Delivery: the calls that send a payload to DHIS2, and what DHIS2 answered."""
