/* SPDX-License-Identifier: BSD-3-Clause */
/* api.h: the control API and metrics over HTTP (SPEC section 6), on the main
 * thread's event base (api/http.c): GET /v1/services[/NAME],
 * PUT/DELETE /v1/services/NAME, POST /v1/reload, GET /healthz, GET /metrics.
 */
#ifndef SRVD_API_H
#define SRVD_API_H

#include <stddef.h>

struct event_base;
struct daemon;
struct api;

/* Starts listening on `listen` ("127.0.0.1:8053", "[::1]:8053"; port 0 picks
 * one, logged as `api listening on ADDR:PORT`). Mutating calls need
 * `Authorization: Bearer TOKEN` when token is non-NULL. Borrows base and d,
 * which must outlive the API; copies listen and token. Returns 0 and sets
 * *out (caller frees with api_free()), or -1 with a message in err. */
int api_create(struct event_base *base, struct daemon *d, const char *listen, const char *token,
               struct api **out, char *err, size_t errlen);

/* Stops listening and frees; accepts NULL. */
void api_free(struct api *api);

#endif
