"""`denialflow check`: the database and the claim workflows, compared and put right."""
