"""volunteers: org tree, reporting in, organisations, teams, love passbook and stars."""
