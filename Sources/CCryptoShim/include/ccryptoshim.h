#ifndef CCRYPTOSHIM_H
#define CCRYPTOSHIM_H
#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA256 of msg keyed with key into out (32 bytes), through the system's OpenSSL libcrypto (libcrypto.so.3),
 * loaded with dlopen on first use. Returns 0, or -1 when libcrypto cannot be loaded (out is then zeroed). */
int rcrypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32]);

/* 1 when libcrypto is available (it loads it). */
int rcrypto_available(void);

#endif
