libsrvd_a_SOURCES += dns/answer.h dns/table.h
