# ctl: srvctl, the command-line client of the control API, installed beside srvd. It
# reads the API's JSON with the registry's YAML reader and links nothing else of srvd.
sbin_PROGRAMS += srvctl
srvctl_SOURCES = ctl/srvctl.c
srvctl_LDADD = libsrvd-registry.a libsrvd-common.a $(YAML_LIBS)
