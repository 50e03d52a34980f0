"""dhis2gw compatibility: HISP-Uganda/dhis2gw's API on Switchboard (``routes.compat_routes``)."""
