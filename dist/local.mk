# dist: the systemd unit (srvd.service, from srvd.service.in at build time), and the
# Dockerfile and compose example (shipped, never built by make).
#
# The unit goes below the prefix so that `make install` and distcheck work without root;
# packagers set it: make install systemdsystemunitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
systemdsystemunitdir = $(prefix)/lib/systemd/system
systemdsystemunit_DATA = dist/srvd.service

dist/srvd.service: $(srcdir)/dist/srvd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) dist && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/dist/srvd.service.in > $@.tmp && mv $@.tmp $@

CLEANFILES += dist/srvd.service
EXTRA_DIST += dist/srvd.service.in dist/Dockerfile dist/compose.yaml dist/compose/srvd.yaml
