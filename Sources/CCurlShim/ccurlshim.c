#include "ccurlshim.h"

/* libcurl is loaded with dlopen on first use, not linked: its dependency tree (TLS, HTTP/2, LDAP, ...) costs about
 * 6 ms at every process start, which every command that never sends (router test, check, a Lambda's init) would pay.
 * The calls below go through this table; CURL_DISABLE_TYPECHECK keeps curl.h from wrapping curl_easy_setopt in a
 * macro, so the redirects apply. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    CURLcode (*easy_perform)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    char *(*version)(void);
    curl_version_info_data *(*version_info)(CURLversion);
} rc_fn;

/* Loads libcurl (the soname the package builds against). Returns 0 when it or a symbol is missing. */
static int rc_load(void) {
    void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h) h = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) return 0;
#define RC_SYM(field, name) \
    if (!(*(void **)&rc_fn.field = dlsym(h, name))) return 0
    RC_SYM(global_init, "curl_global_init");
    RC_SYM(easy_init, "curl_easy_init");
    RC_SYM(easy_cleanup, "curl_easy_cleanup");
    RC_SYM(easy_reset, "curl_easy_reset");
    RC_SYM(easy_setopt, "curl_easy_setopt");
    RC_SYM(easy_getinfo, "curl_easy_getinfo");
    RC_SYM(easy_perform, "curl_easy_perform");
    RC_SYM(slist_append, "curl_slist_append");
    RC_SYM(slist_free_all, "curl_slist_free_all");
    RC_SYM(version, "curl_version");
    RC_SYM(version_info, "curl_version_info");
#undef RC_SYM
    return 1;
}

#define curl_global_init (*rc_fn.global_init)
#define curl_easy_init (*rc_fn.easy_init)
#define curl_easy_cleanup (*rc_fn.easy_cleanup)
#define curl_easy_reset (*rc_fn.easy_reset)
#define curl_easy_setopt (*rc_fn.easy_setopt)
#define curl_easy_getinfo (*rc_fn.easy_getinfo)
#define curl_easy_perform (*rc_fn.easy_perform)
#define curl_slist_append (*rc_fn.slist_append)
#define curl_slist_free_all (*rc_fn.slist_free_all)
#define curl_version (*rc_fn.version)
#define curl_version_info (*rc_fn.version_info)

struct rc_client {
    CURL *easy;
    long connections_opened;
};

/* Per-request state the callbacks write into. */
typedef struct {
    unsigned char *buf;
    size_t len;
    size_t cap;
    int truncated;
    int oom;
    double retry_after;
    size_t max;
    int capture_headers;
    char *hbuf;
    size_t hlen;
    size_t hcap;
} rc_sink;

static pthread_once_t rc_once = PTHREAD_ONCE_INIT;
static CURLcode rc_global_status = CURLE_FAILED_INIT;

static void rc_global_init(void) {
    if (!rc_load()) {
        rc_global_status = CURLE_FAILED_INIT;
        return;
    }
    rc_global_status = curl_global_init(CURL_GLOBAL_DEFAULT);
}

rc_client *rc_client_new(void) {
    pthread_once(&rc_once, rc_global_init);
    if (rc_global_status != CURLE_OK) return NULL;
    rc_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->easy = curl_easy_init();
    if (!c->easy) {
        free(c);
        return NULL;
    }
    return c;
}

void rc_client_free(rc_client *client) {
    if (!client) return;
    curl_easy_cleanup(client->easy);
    free(client);
}

long rc_client_connections_opened(const rc_client *client) { return client ? client->connections_opened : 0; }

const char *rc_curl_version(void) {
    pthread_once(&rc_once, rc_global_init);
    if (rc_global_status != CURLE_OK) return "unavailable";
    curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    return info && info->version ? info->version : "unknown";
}

const char *rc_error_name(int code) {
    switch (code) {
    case CURLE_OK: return NULL;
    case -1: return "setup_failed";
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_CONNECT: return "connect_failed";
    case CURLE_COULDNT_RESOLVE_HOST: return "dns_failed";
    case CURLE_COULDNT_RESOLVE_PROXY: return "proxy_dns_failed";
    case CURLE_SEND_ERROR: return "send_failed";
    case CURLE_RECV_ERROR: return "recv_failed";
    case CURLE_GOT_NOTHING: return "empty_reply";
    case CURLE_PARTIAL_FILE: return "partial_response";
    case CURLE_WEIRD_SERVER_REPLY: return "bad_server_reply";
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return "http2_error";
#if LIBCURL_VERSION_NUM >= 0x074a00 /* 7.74.0 */
    case CURLE_HTTP3:
#endif
#if LIBCURL_VERSION_NUM >= 0x074b00 /* 7.75.0 */
    case CURLE_QUIC_CONNECT_ERROR:
#endif
        return "http3_error";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
#if LIBCURL_VERSION_NUM >= 0x074900 /* 7.73.0 */
    case CURLE_SSL_CLIENTCERT:
#endif
        return "ssl_error";
    case CURLE_PEER_FAILED_VERIFICATION: return "ssl_verify_failed";
    case CURLE_URL_MALFORMAT: return "bad_url";
    case CURLE_UNSUPPORTED_PROTOCOL: return "unsupported_protocol";
    case CURLE_OUT_OF_MEMORY: return "out_of_memory";
    case CURLE_WRITE_ERROR: return "write_error";
    case CURLE_READ_ERROR: return "read_error";
    case CURLE_ABORTED_BY_CALLBACK: return "aborted";
    case CURLE_FAILED_INIT: return "setup_failed";
    case CURLE_BAD_CONTENT_ENCODING: return "bad_content_encoding";
    case CURLE_TOO_MANY_REDIRECTS: return "too_many_redirects";
    case CURLE_LOGIN_DENIED: return "login_denied";
    case CURLE_INTERFACE_FAILED: return "interface_failed";
    default: return "transport_error";
    }
}

static size_t rc_write(char *data, size_t size, size_t nmemb, void *userp) {
    rc_sink *s = userp;
    size_t n = size * nmemb;
    if (s->truncated || s->oom) return n; /* keep reading (so the connection stays usable), keep nothing */
    size_t room = s->max - s->len;
    size_t take = n < room ? n : room;
    if (take > 0) {
        if (s->len + take + 1 > s->cap) {
            size_t want = s->cap ? s->cap : 1024;
            while (want < s->len + take + 1) want *= 2;
            if (want > s->max + 1) want = s->max + 1;
            unsigned char *nb = realloc(s->buf, want);
            if (!nb) {
                s->oom = 1;
                s->truncated = 1;
                return n;
            }
            s->buf = nb;
            s->cap = want;
        }
        memcpy(s->buf + s->len, data, take);
        s->len += take;
        s->buf[s->len] = 0;
    }
    if (take < n) s->truncated = 1;
    return n;
}

static int rc_is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int rc_header_is(const char *line, size_t n, const char *name) {
    size_t k = strlen(name);
    if (n <= k || line[k] != ':') return 0;
    for (size_t i = 0; i < k; i++) {
        char a = line[i], b = name[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

/* delta-seconds ("3", also "1.5" from lenient servers); anything else (an HTTP-date) counts as absent. */
static double rc_parse_delta_seconds(const char *p, size_t n) {
    size_t i = 0;
    while (i < n && rc_is_space(p[i])) i++;
    while (n > i && rc_is_space(p[n - 1])) n--;
    if (i == n) return -1;
    double v = 0;
    int digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (v < 1e9) v = v * 10 + (p[i] - '0');
        i++;
        digits++;
    }
    if (i < n && p[i] == '.') {
        i++;
        double scale = 0.1;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            v += (p[i] - '0') * scale;
            scale /= 10;
            i++;
            digits++;
        }
    }
    if (digits == 0 || i != n) return -1;
    return v;
}

static size_t rc_header(char *line, size_t size, size_t nitems, void *userp) {
    rc_sink *s = userp;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        s->retry_after = -1; /* a new response starts (after a 1xx): only the final one counts */
        s->hlen = 0;
        if (s->hbuf) s->hbuf[0] = 0;
        return n;
    }
    if (s->capture_headers && n > 2 && s->hlen + n < (1u << 20)) {
        if (s->hlen + n + 1 > s->hcap) {
            size_t want = s->hcap ? s->hcap : 512;
            while (want < s->hlen + n + 1) want *= 2;
            char *nb = realloc(s->hbuf, want);
            if (!nb) return n;
            s->hbuf = nb;
            s->hcap = want;
        }
        memcpy(s->hbuf + s->hlen, line, n);
        s->hlen += n;
        s->hbuf[s->hlen] = 0;
    }
    if (rc_header_is(line, n, "retry-after")) {
        size_t k = strlen("retry-after") + 1;
        s->retry_after = rc_parse_delta_seconds(line + k, n - k);
    }
    return n;
}

static void rc_wipe_free_slist(struct curl_slist *list) {
    /* Header lines may carry a bearer token: clear curl's copies before freeing them. */
    for (struct curl_slist *p = list; p; p = p->next) {
        if (p->data) {
            volatile char *d = p->data;
            while (*d) *d++ = 0;
        }
    }
    curl_slist_free_all(list);
}

int rc_post(rc_client *client, const char *url, const char *const *headers, size_t nheaders, const void *body,
            size_t len, long connect_timeout_ms, long total_timeout_ms, rc_response *out) {
    rc_request_options o = {0};
    o.method = "POST";
    /* A bound is always set for Slack: 0 or less means "as short as possible", not "none". */
    o.connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 1L;
    o.total_timeout_ms = total_timeout_ms > 0 ? total_timeout_ms : 1L;
    return rc_request(client, url, headers, nheaders, body, len, &o, out);
}

int rc_request(rc_client *client, const char *url, const char *const *headers, size_t nheaders, const void *body,
               size_t len, const rc_request_options *options, rc_response *out) {
    if (!out) return -1;
    rc_request_options defaults = {0};
    const rc_request_options *o = options ? options : &defaults;
    int is_get = o->method && strcmp(o->method, "GET") == 0;
    memset(out, 0, sizeof *out);
    out->retry_after = -1;
    if (!client || !client->easy || !url || (len > 0 && !body)) {
        out->curl_code = -1;
        out->error_name = rc_error_name(-1);
        return -1;
    }
    CURL *h = client->easy;
    /* Back to defaults; the connection cache, DNS cache and TLS session cache survive a reset. */
    curl_easy_reset(h);

    rc_sink sink = {.retry_after = -1, .max = o->max_body ? o->max_body : RC_MAX_BODY, .capture_headers = o->capture_headers};
    struct curl_slist *list = NULL;
    int setup_ok = 1;
    for (size_t i = 0; i < nheaders && setup_ok; i++) {
        if (!headers[i]) continue;
        struct curl_slist *nl = curl_slist_append(list, headers[i]);
        if (!nl) setup_ok = 0;
        else list = nl;
    }
    /* No `Expect: 100-continue` round trip for larger bodies. Not with SigV4: libcurl 7.88 signs the empty
     * `Expect:` line it never sends, so AWS would refuse the signature (and it adds no Expect of its own below
     * 1 MiB, which no DynamoDB, SQS or SSM request reaches). */
    if (setup_ok && !is_get && !o->aws_sigv4) {
        struct curl_slist *nl = curl_slist_append(list, "Expect:");
        if (!nl) setup_ok = 0;
        else list = nl;
    }

    CURLcode rc = CURLE_OK;
#define RC_SET(opt, val)                                                                                              \
    do {                                                                                                              \
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val);                                                       \
    } while (0)
    if (setup_ok) {
        RC_SET(CURLOPT_URL, url);
        RC_SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
        RC_SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
        RC_SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        RC_SET(CURLOPT_FOLLOWLOCATION, 0L);
        RC_SET(CURLOPT_TCP_KEEPALIVE, 1L);
        RC_SET(CURLOPT_TCP_KEEPIDLE, 30L);
        RC_SET(CURLOPT_TCP_KEEPINTVL, 15L);
        RC_SET(CURLOPT_TCP_NODELAY, 1L);
        if (o->connect_timeout_ms > 0) RC_SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
        RC_SET(CURLOPT_TIMEOUT_MS, o->total_timeout_ms > 0 ? o->total_timeout_ms : 0L);
        if (is_get) {
            RC_SET(CURLOPT_HTTPGET, 1L);
        } else {
            RC_SET(CURLOPT_POST, 1L);
            RC_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
            RC_SET(CURLOPT_POSTFIELDS, len > 0 ? (const char *)body : "");
        }
        if (o->aws_sigv4) {
#if LIBCURL_VERSION_NUM >= 0x074b00 /* 7.75.0 */
            RC_SET(CURLOPT_AWS_SIGV4, o->aws_sigv4);
#else
            rc = CURLE_NOT_BUILT_IN;
#endif
        }
        if (o->userpwd) RC_SET(CURLOPT_USERPWD, o->userpwd);
        RC_SET(CURLOPT_HTTPHEADER, list);
        RC_SET(CURLOPT_WRITEFUNCTION, rc_write);
        RC_SET(CURLOPT_WRITEDATA, (void *)&sink);
        RC_SET(CURLOPT_HEADERFUNCTION, rc_header);
        RC_SET(CURLOPT_HEADERDATA, (void *)&sink);
        if (rc != CURLE_OK) setup_ok = 0;
    }
#undef RC_SET

    if (!setup_ok) {
        curl_easy_reset(h); /* drop pointers to the header list and the sink before they go away */
        rc_wipe_free_slist(list);
        free(sink.buf);
        free(sink.hbuf);
        out->curl_code = rc == CURLE_OUT_OF_MEMORY || rc == CURLE_OK ? CURLE_OUT_OF_MEMORY : -1;
        out->error_name = rc_error_name(out->curl_code);
        return out->curl_code;
    }

    rc = curl_easy_perform(h);

    long status = 0, connects = 0;
    double total = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &total);
    /* Do not leave pointers to this frame (sink) or to freed memory (list, body) in the handle. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)NULL);
    if (o->userpwd) curl_easy_setopt(h, CURLOPT_USERPWD, (const char *)NULL);
    rc_wipe_free_slist(list);

    client->connections_opened += connects;
    out->new_connections = connects;
    out->total_time = total;
    out->curl_code = (int)rc;
    out->error_name = rc_error_name((int)rc);
    if (rc == CURLE_OK) {
        out->status = status;
        out->retry_after = sink.retry_after;
        out->body_truncated = sink.truncated;
        if (sink.len > 0) {
            out->body = sink.buf;
            out->body_len = sink.len;
            sink.buf = NULL;
        }
        if (sink.capture_headers && sink.hbuf) {
            out->headers = sink.hbuf;
            out->headers_len = sink.hlen;
            sink.hbuf = NULL;
        }
    }
    free(sink.buf);
    free(sink.hbuf);
    return out->curl_code;
}

void rc_response_free(rc_response *response) {
    if (!response) return;
    free(response->body);
    response->body = NULL;
    response->body_len = 0;
    free(response->headers);
    response->headers = NULL;
    response->headers_len = 0;
}
