"""Stand-in company databases with the packages' real table and column names (tests and bench)."""
