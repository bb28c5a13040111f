EXTRA_DIST += zones/example.yaml zones/example.zone
