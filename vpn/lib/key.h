/* Static X25519 identities: generation, base64 text form (as wg(8) prints them), and private
 * key files that only their owner may read.
 *
 * A key's text form is standard base64 of its 32 bytes (44 characters with one '=' pad).
 * Private keys are wiped with sodium_memzero by whoever holds them; no function here prints
 * or logs a private key. */
#ifndef VPN_KEY_H
#define VPN_KEY_H

#include <stddef.h>
#include <stdint.h>

#define VPN_KEY_LEN 32
#define VPN_KEY_B64_LEN 44 /* without the terminating NUL */

/* A new private key (clamped as X25519 expects). */
void vpn_key_generate(uint8_t priv[VPN_KEY_LEN]);
/* The public key of priv. Returns 0, or -NC_E_INVALID for a key whose public key is the
 * identity point (all zeros: useless for Diffie-Hellman). */
int vpn_key_public(uint8_t pub[VPN_KEY_LEN], const uint8_t priv[VPN_KEY_LEN]);
/* Base64 text of a key into out[VPN_KEY_B64_LEN + 1]. */
void vpn_key_to_b64(char out[VPN_KEY_B64_LEN + 1], const uint8_t key[VPN_KEY_LEN]);
/* Parses exactly 44 base64 characters that decode to 32 bytes (surrounding whitespace
 * allowed). Returns 0 or -NC_E_PARSE; key is untouched on error. */
int vpn_key_from_b64(uint8_t key[VPN_KEY_LEN], const char *text);
/* Reads a private key file: one base64 key, optionally followed by a newline, through the
 * suite's secret-file reader (<natcheck/keyfile.h>): -NC_E_FILE_MODE for a file its group or
 * others may read or write, -NC_E_NOT_REGULAR, -errno; -NC_E_PARSE for a bad key. err gets
 * a one-line reason naming the file on any error. */
int vpn_key_load_file(uint8_t priv[VPN_KEY_LEN], const char *path, char *err, size_t errlen);

#endif
