#include "key.h"

#include <natcheck/error.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -NC_E_INVALID;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	/* Checked on the open descriptor, so the file cannot be swapped between check and read. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EACCES;
		snprintf(err, errlen,
			 "%s: private key file is accessible by group or others (mode %04o); "
			 "run: chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	while (got < sizeof(text) - 1) {
		n = read(fd, text + got, sizeof(text) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	if (vpn_key_from_b64(priv, text) != 0) {
		rc = -NC_E_PARSE;
		snprintf(err, errlen, "%s: not a base64 private key (expect one 44-character key)",
			 path);
	}
out:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return rc;
}
