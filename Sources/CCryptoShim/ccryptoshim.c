#include "ccryptoshim.h"

/* OpenSSL's libcrypto, loaded with dlopen on first use rather than linked (as libcurl is in CCurlShim): the commands
 * and the Lambda's init that never check a Slack signature pay nothing for it, and `router` stays free of
 * Foundation (swift-crypto's Crypto module imports it on Linux, about 10 ms of start-up and megabytes of the Lambda
 * package). libcrypto.so.3 is on Debian (libssl3, a dependency of libcurl) and in the Lambda base image
 * (openssl-libs). The two calls are declared here, so no OpenSSL headers are needed to build. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

typedef struct evp_md_st EVP_MD;
static struct {
    const EVP_MD *(*sha256)(void);
    unsigned char *(*hmac)(const EVP_MD *, const void *, int, const unsigned char *, size_t, unsigned char *,
                           unsigned int *);
    int loaded;
} fn;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    *(void **)&fn.sha256 = dlsym(h, "EVP_sha256");
    *(void **)&fn.hmac = dlsym(h, "HMAC");
    fn.loaded = fn.sha256 && fn.hmac;
}

int rcrypto_available(void) {
    pthread_once(&once, load);
    return fn.loaded;
}

int rcrypto_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len, uint8_t out[32]) {
    memset(out, 0, 32);
    if (!rcrypto_available() || key_len > 0x7fffffff) return -1;
    unsigned int n = 0;
    static const uint8_t empty = 0;
    if (!fn.hmac(fn.sha256(), key_len ? key : &empty, (int)key_len, msg_len ? msg : &empty, msg_len, out, &n) || n != 32) {
        memset(out, 0, 32);
        return -1;
    }
    return 0;
}
