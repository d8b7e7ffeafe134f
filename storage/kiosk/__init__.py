"""自助机: registered self-service terminals, their receipts' locker slots, and the applicant's visit."""
