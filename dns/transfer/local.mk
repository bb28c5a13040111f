# dns/transfer: zone transfers out (AXFR/IXFR, their history and transfer.allow), TSIG,
# and NOTIFY to the secondaries.
libsrvd_a_SOURCES += dns/transfer/xfr.c dns/transfer/xfr.h dns/transfer/xfr_acl.c \
	dns/transfer/tsig.c dns/transfer/tsig.h dns/transfer/notify.c dns/transfer/notify.h
