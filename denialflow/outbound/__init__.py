"""Files written for the clearinghouse (837P claims, 276 status inquiries)."""
