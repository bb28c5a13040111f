# api: control API and metrics over HTTP, and what it needs elsewhere:
# query counters (dns/stats.c) and fragment files (registry/fragment.c)
libsrvd_a_SOURCES += api/api.c api/api.h api/api_int.h api/services.c \
	api/json.c api/json.h api/metrics.c api/metrics.h \
	dns/stats.c dns/stats.h registry/fragment.c
