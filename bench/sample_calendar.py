"""A 2027 holiday schedule for benchmarks and tests, in the shape of the State Council's notice —
NOT the real 2027 schedule (unpublished when this was written). One copy, so that every story
that publishes "2027" publishes the same year."""

#: What pages and messages say of a provisional date (written here, not imported from the code tested).
NOTE = "以国务院办公厅公布的节假日安排为准"

#: The year after 元旦.
AFTER_NEW_YEAR_2027 = """2027-02-05 2027-02-12 春节
2027-04-03 2027-04-05 清明节
2027-05-01 2027-05-05 劳动节
2027-06-09 端午节
2027-09-15 中秋节
2027-10-01 2027-10-07 国庆节"""

#: 元旦 is given Mon 01-04 as well, so most provisional deadlines move one working day later.
HOLIDAYS_2027 = "2027-01-01 2027-01-04 元旦\n" + AFTER_NEW_YEAR_2027
