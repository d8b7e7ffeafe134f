"""自助机 (self-service kiosk): a registered terminal receives through the intake service like a clerk;
its paper waits in a locker slot until a clerk confirms it, before the pre-check may pass."""
