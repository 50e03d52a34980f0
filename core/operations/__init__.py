"""What operators and administrators do with the records: browse, repair, reply."""
