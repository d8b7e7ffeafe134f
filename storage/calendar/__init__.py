"""Published holiday schedules entered in the admin UI (节假日安排)."""
