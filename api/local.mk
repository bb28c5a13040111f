# api: the control API (its HTTP server, the routes), metrics and the status page.
libsrvd_a_SOURCES += api/api.c api/api.h api/api_int.h api/http.c api/http.h api/services.c \
	api/json.c api/json.h api/metrics.c api/metrics.h api/status.c api/watch.c api/sd.c \
	api/consul.c

# The status page is written as plain HTML and compiled in as one C string
# (every line quoted; backslash, quote and '?' escaped: no trigraphs).
nodist_libsrvd_a_SOURCES = api/status_html.h
BUILT_SOURCES = api/status_html.h
CLEANFILES += api/status_html.h
# BUILT_SOURCES only covers `make all/check`: a build of one program (the
# fuzzers', tests/fuzz/run.sh) needs the dependency spelled out
api/status.$(OBJEXT): api/status_html.h
EXTRA_DIST += api/status.html
api/status_html.h: $(srcdir)/api/status.html $(srcdir)/api/local.mk
	$(AM_V_GEN)$(MKDIR_P) api && { \
	  echo '/* generated from api/status.html by api/local.mk: do not edit */'; \
	  echo 'static const char STATUS_HTML[] ='; \
	  $(AWK) '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\?/, "\\?"); \
	    print "\t\"" $$0 "\\n\"" }' $(srcdir)/api/status.html; \
	  echo ';'; } > $@-t && mv $@-t $@
