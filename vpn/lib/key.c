#include "key.h"

#include <natcheck/error.h>
#include <natcheck/keyfile.h>

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

void vpn_key_generate(uint8_t priv[VPN_KEY_LEN])
{
	randombytes_buf(priv, VPN_KEY_LEN);
	/* RFC 7748 §5 clamping, as wg genkey stores it: scalarmult clamps anyway, but a stored
	 * clamped key is what other tools expect to read back. */
	priv[0] &= 248;
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
}

int vpn_key_public(uint8_t pub[VPN_KEY_LEN], const uint8_t priv[VPN_KEY_LEN])
{
	if (crypto_scalarmult_base(pub, priv) != 0 || sodium_is_zero(pub, VPN_KEY_LEN))
		return -NC_E_INVALID;
	return 0;
}

void vpn_key_to_b64(char out[VPN_KEY_B64_LEN + 1], const uint8_t key[VPN_KEY_LEN])
{
	sodium_bin2base64(out, VPN_KEY_B64_LEN + 1, key, VPN_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int vpn_key_from_b64(uint8_t key[VPN_KEY_LEN], const char *text)
{
	uint8_t tmp[VPN_KEY_LEN];
	size_t start = 0, end = strlen(text), n = 0;
	const char *last = NULL;

	while (start < end && isspace((unsigned char)text[start]))
		start++;
	while (end > start && isspace((unsigned char)text[end - 1]))
		end--;
	if (end - start != VPN_KEY_B64_LEN || text[end - 1] != '=')
		return -NC_E_PARSE;
	if (sodium_base642bin(tmp, sizeof(tmp), text + start, end - start, NULL, &n, &last,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    n != VPN_KEY_LEN || last != text + end) {
		sodium_memzero(tmp, sizeof(tmp));
		return -NC_E_PARSE;
	}
	memcpy(key, tmp, VPN_KEY_LEN);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

int vpn_key_load_file(uint8_t priv[VPN_KEY_LEN], const char *path, char *err, size_t errlen)
{
	char text[128];
	int n, rc = 0;

	/* The suite's one rule for secret files (owner-only, regular, bounded). */
	n = nc_read_secret_file(path, text, sizeof(text) - 1);
	if (n < 0) {
		nc_secret_file_error(path, n, err, errlen);
		return n;
	}
	text[n] = '\0';
	if (vpn_key_from_b64(priv, text) != 0) {
		rc = -NC_E_PARSE;
		snprintf(err, errlen, "%s: not a base64 private key (expect one 44-character key)",
			 path);
	}
	sodium_memzero(text, sizeof(text));
	return rc;
}
