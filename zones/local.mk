EXTRA_DIST += zones/example.yaml zones/example.zone
EXTRA_DIST += zones/demo/healthz
