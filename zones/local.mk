EXTRA_DIST += zones/example.yaml zones/example.zone
EXTRA_DIST += zones/demo/healthz
EXTRA_DIST += zones/services.d/.gitignore

# `make install` ships the example as $(sysconfdir)/srvd/srvd.yaml with its zone file and
# include folder. An existing file is left alone, so an upgrade keeps an operator's edits;
# uninstall removes only the files that are still the shipped ones.
srvdconfdir = $(sysconfdir)/srvd
SRVD_CONF = srvd.yaml:zones/example.yaml example.zone:zones/example.zone

install-data-local: install-srvd-conf
install-srvd-conf:
	$(MKDIR_P) '$(DESTDIR)$(srvdconfdir)/services.d'
	@for pair in $(SRVD_CONF); do \
		dst=$${pair%%:*}; src=$(srcdir)/$${pair#*:}; \
		if test -f '$(DESTDIR)$(srvdconfdir)'/$$dst; then \
			echo "$(srvdconfdir)/$$dst exists: not overwritten"; \
		else \
			echo " $(INSTALL_DATA) $$src '$(DESTDIR)$(srvdconfdir)/$$dst'"; \
			$(INSTALL_DATA) $$src '$(DESTDIR)$(srvdconfdir)'/$$dst || exit 1; \
		fi; \
	done

uninstall-local: uninstall-srvd-conf
uninstall-srvd-conf:
	@for pair in $(SRVD_CONF); do \
		dst='$(DESTDIR)$(srvdconfdir)'/$${pair%%:*}; src=$(srcdir)/$${pair#*:}; \
		if cmp -s $$src $$dst; then echo " rm -f $$dst"; rm -f $$dst; fi; \
	done
	-rmdir '$(DESTDIR)$(srvdconfdir)/services.d' '$(DESTDIR)$(srvdconfdir)' 2>/dev/null

.PHONY: install-srvd-conf uninstall-srvd-conf
