EXTRA_DIST += zones/example.yaml zones/example.zone
EXTRA_DIST += zones/demo/healthz
EXTRA_DIST += zones/services.d/.gitignore
