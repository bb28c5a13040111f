# api: control API and metrics over HTTP
