# man: srvd(8), srvd.yaml(5) and srvctl(1), written in roff (srvd.yaml.5 lists every key of
# registry_schema_print()).
dist_man_MANS = man/srvd.8 man/srvd.yaml.5 man/srvctl.1
