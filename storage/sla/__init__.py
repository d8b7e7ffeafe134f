"""Tables of the SLA clock: pauses, watched deadlines, alerts and the notification ledger."""
