/* SPDX-License-Identifier: BSD-3-Clause */
/* name.c: wire-format name helpers (see name.h). */
#include "config.h"

#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer/name.h"

void dns_name_lower(uint8_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (uint8_t)(name[i] + 32);
}

size_t dns_name_wire_len(const uint8_t *name)
{
	size_t i = 0;
	while (name[i])
		i += (size_t)name[i] + 1;
	return i + 1;
}

size_t dns_name_from_text(const char *text, uint8_t out[256])
{
	ldns_rdf *rdf = ldns_dname_new_frm_str(text);
	size_t len;
	if (!rdf)
		return 0;
	len = ldns_rdf_size(rdf);
	if (len == 0 || len > 255) {
		ldns_rdf_deep_free(rdf);
		return 0;
	}
	memcpy(out, ldns_rdf_data(rdf), len);
	ldns_rdf_deep_free(rdf);
	dns_name_lower(out, len);
	return len;
}

size_t dns_name_prepend(uint8_t out[256], const char *prefix, const char *label,
                        const uint8_t *rest, size_t rest_len)
{
	size_t pl = strlen(prefix), ll = strlen(label), n = 1 + pl + ll + rest_len;
	uint8_t tmp[256];
	if (pl + ll == 0 || pl + ll > 63 || n > 255)
		return 0;
	tmp[0] = (uint8_t)(pl + ll);
	memcpy(tmp + 1, prefix, pl);
	memcpy(tmp + 1 + pl, label, ll);
	memcpy(tmp + 1 + pl + ll, rest, rest_len);
	dns_name_lower(tmp + 1, pl + ll);
	memcpy(out, tmp, n);
	return n;
}

int dns_name_under(const uint8_t *name, size_t len, const uint8_t *apex, size_t alen)
{
	size_t i = 0;
	if (alen > len)
		return 0;
	while (len - i > alen)
		i += (size_t)name[i] + 1;
	return len - i == alen && memcmp(name + i, apex, alen) == 0;
}
