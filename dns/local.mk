# dns: three rooms, each with its own fragment: the pure answer path (its own library,
# libsrvd-answer.a), the listeners and workers, and zone transfers with TSIG and NOTIFY.
include dns/answer/local.mk
include dns/listen/local.mk
include dns/transfer/local.mk
